"""The page's main-thread UI (MicroPython): takes photos (drop, paste, pick, a folder,
many at once), runs them through the worker one at a time, shows each one's progress
and the batch's, shows a cutout and offers its download in the chosen background,
size and format, and all of them in one ZIP.

The work is modelled in `app.ui.state` (the queue of jobs), drawn by `app.ui.views`,
and asked of the worker through `app.ui.client`; this module wires the page's events
to them. Every user action that starts work gets a number (`#result`'s
`data-request`; `data-done` once its work is over). Controls and the busy state are
restored in `finally`, so an error never leaves the page stuck.
Imports: `pyscript`, `app.ui`.
"""
import asyncio
import json

from pyscript import document, js_import, window
from pyscript.ffi import create_proxy, to_js

from app.ui import prefetch, state, text
from app.ui.client import WorkerClient
from app.ui.views import EditorView, ExportControls, QueueView, ResultView, StatusView, blob, download, element

WAIT_SECONDS = 0.2          # how often a photo given during start-up checks for the worker
MODEL_KEY = "cutout.model"
BACKEND_KEY = "cutout.backend"                # the Settings choice: auto, webgpu or wasm
WEBGPU_FAILED_KEY = "cutout.webgpu-failed"    # why WebGPU failed on this device, if it did
OPTIONS_KEY = "cutout.options"
INFERENCE_KEY = "cutout.inference-seconds"    # the last inference's time, by model and back-end
PROFILE_KEY = "cutout.keep-colour-profile"    # "0": the PNG leaves out the photo's colour profile
# The page's controls for app.core.options.Options, by field name.
SWITCHES = ("refine_edges", "decontaminate", "remove_specks", "keep_main_subject")
SLIDERS = ("shift_edge", "feather")


def now():
    return window.performance.now() / 1000


class Page:
    def __init__(self):
        self.drop_zone = element("drop-zone")
        self.file_input = element("file-input")
        self.keep_profile = element("keep_colour_profile")
        self.engine = element("engine")
        self.model_select = element("model")
        self.backend_select = element("backend")
        self.status = StatusView()
        self.view = ResultView()
        self.list = QueueView()
        self.editor = EditorView()
        self.stroke = None         # the stroke being painted: {"mode", "points", ...}
        self.panning = None        # (x, y, scrollLeft, scrollTop) while the Move tool drags
        self.editing = 0           # edits sent to the worker and not yet answered
        self.export_controls = ExportControls()
        self.apply_all = element("apply-all")
        self.pinned = False        # the user chose the photo on screen: new results don't replace it
        self.packing = ""          # what "Download all" is at, while it packs the ZIP
        self.downscale_button = self.status.make_button_after_status("downscale", text.DOWNSCALE_BUTTON)
        self.queue = state.Queue()
        self.files = {}            # job id -> its File (kept while the job is in the list)
        self.client = None         # the worker, once it has started
        self.runner = None         # the task working through the queue
        self.action = 0            # the newest user action that started work
        self.shown = None          # the done job whose cutout is on screen
        self.too_large = None      # a failed job the worker can downscale
        self.restyling = False
        self.restyle_pending = False
        self.exports = 0           # exports asked for; only the newest one's reply is offered
        self.edits_sent = 0        # edit requests sent; only the newest one's reply is drawn
        self.loading_model = False
        self.option_defaults = {}
        self.boot_stage = text.STAGE_LABELS["boot"]    # what starting the worker is at
        self.early_bytes = None    # (received, total) of the model downloading while it starts
        self.engine_key = ""       # "model/backend" of the session the worker has open
        self.inference_seconds = self.stored_inference_seconds()   # by engine_key, this device
        self.inference = None      # the inference worker (a JS Worker) this page started
        self.inference_name = ""   # its name: the channel the worker's bridge calls it on
        self._proxies = []

    # -- wiring --------------------------------------------------------------
    def listen(self, target, event, handler):
        proxy = create_proxy(handler)
        self._proxies.append(proxy)
        target.addEventListener(event, proxy)

    def wire(self):
        self.listen(self.file_input, "change", self.on_pick)
        self.listen(self.drop_zone, "dragover", self.on_drag_over)
        self.listen(self.drop_zone, "dragleave", self.on_drag_leave)
        self.listen(self.drop_zone, "drop", self.on_drop)
        self.listen(document, "paste", self.on_paste)
        self.listen(window, "py:progress", self.on_boot_progress)
        self.listen(self.model_select, "change", self.on_model_change)
        self.listen(self.backend_select, "change", self.on_backend_change)
        for name in SWITCHES + SLIDERS:
            self.listen(element(name), "change", self.on_option_change)
        for name in SLIDERS:
            self.listen(element(name), "input", self.on_slider_input)
        self.listen(element("reset-edges"), "click", self.on_reset_options)
        self.listen(self.view.cancel_button, "click", self.on_cancel)
        self.listen(self.downscale_button, "click", self.on_downscale)
        self.listen(element("backdrop"), "change", self.on_backdrop)
        self.listen(self.keep_profile, "change", self.on_profile_change)
        for control in self.export_controls.controls:
            self.listen(control, "change", self.on_export_change)
        self.listen(self.export_controls.picture_input, "change", self.on_picture)
        self.listen(element("copy"), "click", self.on_copy)
        self.listen(self.list.list, "click", self.on_list_click)
        self.listen(self.list.download_all, "click", self.on_download_all)
        self.listen(self.list.cancel_all, "click", self.on_cancel_all)
        self.listen(self.list.clear, "click", self.on_clear)
        self.listen(self.apply_all, "click", self.on_apply_all)
        self.listen(document, "cutout:not-a-file", self.on_not_a_file)
        self.wire_editor()
        self.keep_profile.checked = window.localStorage.getItem(PROFILE_KEY) != "0"
        self.restore_model_choice()
        self.say_boot()
        self.start_inference()
        asyncio.create_task(self.open_early())
        self.drop_zone.classList.remove("booting")
        if self.file_input.files and self.file_input.files.length:
            self.on_pick(None)          # chosen before these handlers existed: never lost

    def wire_editor(self):
        for name in ("view", "tool"):
            for radio in document.querySelectorAll("input[name={}]".format(name)):
                self.listen(radio, "change", self.on_view_change if name == "view" else self.on_tool_change)
        viewport = self.editor.viewport
        self.listen(viewport, "pointerdown", self.on_pointer_down)
        self.listen(viewport, "pointermove", self.on_pointer_move)
        self.listen(viewport, "pointerup", self.on_pointer_up)
        self.listen(viewport, "pointercancel", self.on_pointer_up)
        self.listen(viewport, "wheel", self.on_wheel)
        self.listen(viewport, "keydown", self.on_viewport_key)
        self.listen(document, "keydown", self.on_key)
        self.listen(self.editor.compare, "input", lambda event: self.editor.render())
        self.listen(self.editor.brush_size, "input", self.on_brush_size)
        self.listen(self.editor.undo_button, "click", lambda event: self.change_edits("undo"))
        self.listen(self.editor.redo_button, "click", lambda event: self.change_edits("redo"))
        self.listen(self.editor.reset_button, "click", lambda event: self.change_edits("reset"))
        self.listen(element("zoom-in"), "click", lambda event: self.editor.zoom_by(1))
        self.listen(element("zoom-out"), "click", lambda event: self.editor.zoom_by(-1))
        self.listen(element("zoom-fit"), "click", lambda event: self.editor.fit())
        self.listen(element("zoom-100"), "click", lambda event: self.editor.zoom_to(1.0))

    # -- the editor ------------------------------------------------------------
    def tool(self):
        chosen = document.querySelector("input[name=tool]:checked")
        return chosen.value if chosen else "move"

    def on_view_change(self, event):
        mode = event.target.value
        if mode == "unsure" and self.editor.unsure is None and self.shown is not None:
            asyncio.create_task(self.load_unsure())
        self.editor.set_mode(mode)

    async def load_unsure(self):
        reply = await self.client.unsure(self.shown)
        if reply.ok:
            self.editor.unsure = (reply.width, reply.height, reply.rgba)
            self.editor.render()

    def on_tool_change(self, event):
        self.editor.viewport.dataset.tool = self.tool()
        self.editor.render()

    def on_brush_size(self, event):
        element("brush-size-value").textContent = "{} px".format(self.editor.brush_size.value)

    def on_pointer_down(self, event):
        if self.shown is None or event.button != 0:
            return
        tool = self.tool()
        viewport = self.editor.viewport
        if tool == "move":
            self.panning = (event.clientX, event.clientY, viewport.scrollLeft, viewport.scrollTop)
        elif tool in ("restore", "erase"):
            x, y = self.editor.image_point(event)
            self.stroke = {"kind": "stroke", "mode": tool, "points": [[x, y]],
                           "radius": round(self.editor.brush_radius(), 2),
                           "hardness": float(self.editor.hardness.value), "snap": bool(self.editor.snap.checked)}
            self.editor.trace([(x, y)], self.stroke["radius"], tool == "erase")
        elif tool in ("keep", "drop"):
            x, y = self.editor.image_point(event)
            if 0 <= x < self.editor.canvas.width and 0 <= y < self.editor.canvas.height:
                self.add_edit({"kind": "pick", "x": x, "y": y, "keep": tool == "keep"})
            return
        else:
            return
        event.preventDefault()
        viewport.setPointerCapture(event.pointerId)

    def on_pointer_move(self, event):
        if self.panning is not None:
            x, y, left, top = self.panning
            self.editor.viewport.scrollLeft = left - (event.clientX - x)
            self.editor.viewport.scrollTop = top - (event.clientY - y)
        elif self.stroke is not None:
            x, y = self.editor.image_point(event)
            points = self.stroke["points"]
            last = points[-1]
            if (x - last[0]) ** 2 + (y - last[1]) ** 2 >= (self.stroke["radius"] / 4) ** 2:
                points.append([x, y])
                self.editor.trace([last, (x, y)], self.stroke["radius"], self.stroke["mode"] == "erase")

    def on_pointer_up(self, event):
        self.panning = None
        if self.stroke is not None:
            stroke, self.stroke = self.stroke, None
            self.add_edit(stroke)

    def on_wheel(self, event):
        """Ctrl + wheel (and a trackpad's pinch) zooms about the pointer; the wheel alone scrolls."""
        if self.shown is not None and event.ctrlKey:
            event.preventDefault()
            self.editor.zoom_by(-1 if event.deltaY > 0 else 1, (event.clientX, event.clientY))

    def on_viewport_key(self, event):
        if event.key in ("+", "="):
            self.editor.zoom_by(1)
        elif event.key == "-":
            self.editor.zoom_by(-1)
        elif event.key == "0":
            self.editor.fit()
        else:
            return
        event.preventDefault()

    def on_key(self, event):
        """Ctrl+Z undoes a mask edit, Ctrl+Shift+Z (or Ctrl+Y) redoes it, except while typing."""
        if not (event.ctrlKey or event.metaKey) or self.shown is None:
            return
        target = event.target
        if target and target.tagName in ("INPUT", "SELECT", "TEXTAREA") and target.type not in ("radio", "checkbox", "range"):
            return
        key = str(event.key).lower()
        if key == "z":
            self.change_edits("redo" if event.shiftKey else "undo")
        elif key == "y":
            self.change_edits("redo")
        else:
            return
        event.preventDefault()

    def add_edit(self, edit):
        job = self.queue.get(self.shown)
        if job is None:
            return
        if job.state != state.DONE:
            self.status.say(text.EDIT_WAITS)
            return
        job.history.add(edit)
        asyncio.create_task(self.send_edits(job, show_change=True))

    def change_edits(self, how):
        job = self.queue.get(self.shown) if self.shown is not None else None
        if job is None:
            return
        history = job.history
        if (how == "undo" and not history.can_undo()) or (how == "redo" and not history.can_redo()) \
                or (how == "reset" and not history.edits):
            return
        getattr(history, how)()
        asyncio.create_task(self.send_edits(job))

    async def send_edits(self, job, show_change=False):
        """The photo on screen with its edits as they are now (the worker replays them);
        `show_change`: for a new edit, where it changed the cutout is shown a moment."""
        self.editor.show_history(job.history)
        self.action += 1
        self.view.mark_request(self.action)
        self.editing += 1
        self.edits_sent += 1
        mine = self.edits_sent
        try:
            self.status.say("Applying the edit…")
            result = await self.client.edit(job.id, json.dumps(job.history.edits))
            if mine != self.edits_sent or job.id != self.shown:
                return
            if not result.ok:
                self.status.say(text.failure(result.kind, result.error, job.name), error=True)
                return
            last = job.history.edits[-1] if job.history.edits else None
            if not result.changed and last is not None and last.get("kind") == "pick":
                job.history.withdraw()          # a click on nothing to change is not an edit
                self.editor.show_history(job.history)
                self.status.say(text.nothing_to_pick(last.get("keep")))
                return
            self.view.draw(result)
            self.editor.render()
            if show_change and result.change:
                self.editor.show_change(result.change)
            else:
                self.editor.hide_change()
            if await self.export_shown() is not None and mine == self.edits_sent:
                self.status.say(text.edits_line(len(job.history.edits)))
        except Exception as exc:
            self.status.say("Something went wrong: {}".format(exc), error=True)
        finally:
            self.editing -= 1
            self.settle()

    def on_pick(self, event):
        self.take_files(self.file_input.files)
        self.file_input.value = ""      # so that choosing the same file again is seen too

    def on_drag_over(self, event):
        self.drop_zone.classList.add("dragging")

    def on_drag_leave(self, event):
        self.drop_zone.classList.remove("dragging")

    def on_drop(self, event):
        """static/early-input.js takes every drop (folders opened) into the file input."""
        self.drop_zone.classList.remove("dragging")

    def on_not_a_file(self, event):
        self.status.say(text.NOT_A_FILE, error=True)

    def on_paste(self, event):
        files = event.clipboardData.files if event.clipboardData else None
        if files and files.length:
            event.preventDefault()
            self.take_files(files)

    def on_boot_progress(self, event):
        if event.detail:
            self.boot_stage = text.boot_label(str(event.detail))
            self.say_boot()

    def say_boot(self):
        """While the worker starts: its stage, and the model's early download if any."""
        if self.client is None:
            self.status.say(text.boot_line(self.boot_stage, self.early_bytes))

    def on_early_bytes(self, received, total):
        self.early_bytes = (int(received), int(total))
        self.say_boot()

    def on_worker_progress(self, event):
        """The worker's progress, pushed as it happens: shown only while the page waits
        for it (never over "Done." or an error), and never another job's stage."""
        if not (self.busy() or self.loading_model):
            return
        status = json.loads(str(event.data))
        if status.get("phase") == "work":
            job = self.queue.working()
            if job is None or status.get("job") != job.id:
                return
            if (status.get("stage") or "") != job.stage:
                self.queue.set_stage(job.id, status.get("stage") or "")
                self.list.update(job, self.shown)
        line = text.describe_progress(status, self.inference_seconds.get(self.engine_key))
        if line:
            self.status.say(line)
        self.status.show_meter(status)

    def on_first_look(self, event):
        """A rough cutout of the photo being worked on, shown until its full one comes
        (only when that one will be shown: not while the user keeps another on screen)."""
        look = event.data
        job = self.queue.working()
        if job is None or job.id != int(look.job) or job.finished or not self.shows_when_done():
            return
        self.view.show_first_look(look.rgba, int(look.width), int(look.height), job.name)

    def shows_when_done(self):
        """Whether the photo being worked on comes on screen when it is done."""
        return not self.pinned or self.shown is None

    def on_backdrop(self, event):
        self.view.set_backdrop(event.target.value)

    def on_cancel(self, event):
        """Stop the photo being worked on; the previous result comes back."""
        job = self.queue.working()
        if job is None:
            return
        self.cancel_job(job)
        if self.queue.next_waiting() is None:
            self.view.restore_shown()
            self.settle()
        self.status.say("Cancelled.")

    def on_downscale(self, event):
        """The user agrees: the photo over the size limit again, downscaled to fit."""
        job = self.too_large
        if job is not None and job.id in self.files:
            self.too_large = None
            self.queue.retry(job.id)
            job.downscale = True
            self.start_action(job.name)
            job.batch = self.action
            self.ensure_running()

    def on_option_change(self, event):
        window.localStorage.setItem(OPTIONS_KEY, self.options_json())
        asyncio.create_task(self.restyle())

    def on_slider_input(self, event):
        self.show_slider_values()

    def on_reset_options(self, event):
        self.set_options(self.option_defaults)
        self.on_option_change(event)

    def on_model_change(self, event):
        asyncio.create_task(self.switch_model())

    def on_backend_change(self, event):
        window.localStorage.setItem(BACKEND_KEY, self.backend_select.value)
        asyncio.create_task(self.switch_model())

    def on_profile_change(self, event):
        window.localStorage.setItem(PROFILE_KEY, "1" if self.keep_profile.checked else "0")
        self.on_export_change(event)

    def on_export_change(self, event):
        """Background, size or format changed: the download on offer is made again."""
        self.export_controls.remember()
        if self.shown is not None and not self.restyling:
            asyncio.create_task(self.export_again())

    def on_picture(self, event):
        """The user's picture for the background: kept on this page, never uploaded."""
        files = self.export_controls.picture_input.files
        if files and files.length:
            self.export_controls.picture = files.item(0)
            self.on_export_change(event)

    def on_list_click(self, event):
        target = event.target.closest("[data-action]")
        item = event.target.closest("li")
        if target is None or item is None:
            return
        job = self.queue.get(int(item.dataset.job))
        if job is None:
            return
        action = target.dataset.action
        if action == "cancel":
            if job is self.queue.working():
                self.on_cancel(event)
            else:
                self.cancel_job(job)
            self.refresh(job)
        elif action == "show":
            asyncio.create_task(self.show_job(job))
        elif action == "download":
            asyncio.create_task(self.download_job(job))

    def on_cancel_all(self, event):
        working = self.queue.working()
        for job in list(self.queue.jobs):
            if not job.finished and job is not working:
                self.cancel_job(job)
                self.refresh(job)
        if working is not None:
            self.on_cancel(event)
            self.refresh(working)
        self.status.say("Cancelled the photos not yet done.")

    def on_clear(self, event):
        for job_id in self.queue.remove_finished(keep=self.shown):
            self.list.remove(job_id)
            self.forget_file(job_id)
            if self.client is not None:
                self.client.cancel(job_id)      # its kept mask too
        self.show_summary()

    def on_apply_all(self, event):
        """Every photo's edge settings become the ones shown now (the ZIP makes each again)."""
        options = self.options_json()
        changed = 0
        for job in self.queue.jobs:
            if job.state in (state.WAITING, state.DONE) and job.options != options:
                job.options = options
                changed += 1
        self.status.say("These edge settings now apply to every photo ({} changed).".format(changed))

    # -- settings ------------------------------------------------------------
    def options_json(self):
        """The edge settings as the worker's `Options` fields, in JSON."""
        values = {name: bool(element(name).checked) for name in SWITCHES}
        for name in SLIDERS:
            values[name] = float(element(name).value)
        return json.dumps(values)

    def set_options(self, values):
        for name in SWITCHES:
            if name in values:
                element(name).checked = bool(values[name])
        for name in SLIDERS:
            if name in values:
                element(name).value = str(values[name])
        self.show_slider_values()

    def show_slider_values(self):
        for name in SLIDERS:
            element(name + "-value").textContent = text.format_pixels(float(element(name).value))

    def restore_options(self, defaults_json):
        """Defaults from the worker (the single source), then the user's saved choices."""
        self.option_defaults = json.loads(defaults_json)
        self.set_options(self.option_defaults)
        saved = window.localStorage.getItem(OPTIONS_KEY)
        if saved:
            try:
                self.set_options(json.loads(str(saved)))
            except ValueError:
                window.localStorage.removeItem(OPTIONS_KEY)

    def restore_model_choice(self):
        """`?model=NAME` and `?backend=NAME` in the address, else the last choices, else
        the worker's default model and the automatic back-end."""
        for select, name, key in ((self.model_select, "model", MODEL_KEY),
                                  (self.backend_select, "backend", BACKEND_KEY)):
            wanted = text.query_value(window.location.search, name) or window.localStorage.getItem(key)
            if wanted:
                select.value = str(wanted)

    def model(self):
        """The chosen model, or '' for the worker's default until it has told us which."""
        return self.model_select.value

    def show_apply_all(self):
        self.apply_all.hidden = len(self.queue.jobs) < 2

    async def switch_model(self):
        """Remember and load the chosen model, then redo the photo on screen with it."""
        window.localStorage.setItem(MODEL_KEY, self.model())
        if await self.prepare_model() and self.shown in self.files and not self.busy():
            self.take_files([self.files[self.shown]])

    # -- start-up ------------------------------------------------------------
    def start_inference(self):
        """Start the inference worker (static/inference-worker.js) now, so ONNX Runtime
        loads while Python starts in the other worker; `open_early` may have it open the
        model at once. The worker's bridge is told its name (`prepare`); without one it
        starts its own."""
        try:
            name = "cutout-inference-{}".format(window.Math.random())
            options = window.JSON.parse(json.dumps({"type": "module", "name": name}))
            url = window.URL.new("static/inference-worker.js", window.location.href).href
            self.inference = window.Worker.new(url, options)
            self.inference_name = name
        except Exception as exc:
            window.console.warn("inference worker: {}".format(exc))

    async def open_early(self):
        """Have the inference worker download (or read from this device) and open the model
        while Python starts, when the page is sure which file the worker will want
        (app/ui/prefetch.py): the worker's first request for it then takes that session over.
        Any failure here is left for the worker to meet and explain."""
        try:
            if self.inference is None:
                return
            modules = await js_import(window.URL.new("static/webgpu-support.js", window.location.href).href)
            support = await modules[0].webgpuSupport()
            with open("models/manifest.json") as f:
                manifest = json.load(f)
            with open("models/defaults.json") as f:
                defaults = json.load(f)
            entry = prefetch.early_download(manifest, defaults, self.model(),
                                            self.backend_select.value or "auto", bool(support.available))
            if entry is None:
                return
            self.listen(self.inference, "message", self.on_early_open)
            request = {"id": "early", "op": "open",
                       "args": ["models/" + entry["file"], entry["bytes"], entry["sha256"], "wasm"]}
            self.inference.postMessage(window.JSON.parse(json.dumps(request)))
        except Exception as exc:
            window.console.warn("early model download: {}".format(exc))

    def on_early_open(self, event):
        """The early open's download progress (its outcome is the worker's to report)."""
        try:
            received, total = event.data.progress
        except (AttributeError, TypeError):
            return                      # {ok, error}: the worker's own request will say
        self.on_early_bytes(received, total)

    async def boot(self):
        """Wait for the worker, have it push its progress here, then fetch the model at once."""
        try:
            client = await WorkerClient.connect(self.on_worker_progress, self.on_first_look)
        except Exception as exc:
            self.status.say("The engine could not start: {}. Reload the page to try again.".format(exc),
                            error=True)
            return
        self.client = client
        await self.prepare_model()

    async def prepare_model(self):
        self.loading_model = True
        try:
            failed_before = window.localStorage.getItem(WEBGPU_FAILED_KEY) or ""
            info = await self.client.prepare(self.model(), self.backend_select.value or "auto", failed_before,
                                             self.inference_name)
        finally:
            self.loading_model = False
        if not info.ok:
            self.status.say(text.failure(info.kind, info.error), error=True)
            return False
        if not self.option_defaults:
            self.restore_options(info.defaults)
            self.export_controls.fill(json.loads(info.choices))
        self.show_engine(info)
        if not self.busy():
            self.status.say("Ready. Drop a photo, paste one, or choose a file.")
            asyncio.create_task(self.warm_up())
        return True

    async def warm_up(self):
        """While the user chooses, the worker runs every stage once on a made-up photo: the
        first photo then goes as fast as the next ones (measured here: its first look and
        its edges 0.2 s faster each). The page shows nothing of it; the root element's
        data-warmed-up says how it went ("yes", or "no" if a photo came first)."""
        reply = await self.client.warm_up(self.model())
        document.documentElement.dataset.warmedUp = "yes" if reply.ok and reply.warmed else "no"

    # -- the queue -----------------------------------------------------------
    def busy(self):
        return (self.queue.working() is not None or self.queue.next_waiting() is not None or self.restyling
                or self.editing > 0)

    def take_files(self, files):
        """Every file joins the queue, in order; they are cut out one at a time."""
        count = len(files) if isinstance(files, list) else files.length
        if not count:
            return
        self.pinned = False                 # the new photos come on screen as they are done
        self.start_action(files[0].name if isinstance(files, list) else files.item(0).name)
        for index in range(count):
            file = files[index] if isinstance(files, list) else files.item(index)
            job = self.queue.add(file.name, file.size, self.action)
            self.files[job.id] = file
            self.list.update(job, self.shown)
        self.show_apply_all()
        self.show_summary()
        self.ensure_running()

    def start_action(self, name):
        """A user action that starts work: numbered, and the page shows it is busy."""
        self.action += 1
        self.restyle_pending = False
        self.downscale_button.hidden = True
        self.view.mark_request(self.action)
        if self.queue.working() is None:
            self.view.start_busy(name)
            self.status.say("Working on {}…".format(name))

    def refresh(self, job):
        self.list.update(job, self.shown)
        self.show_summary()

    def show_summary(self):
        self.list.show_summary(self.queue, now(), self.expected_seconds(), self.packing)

    def expected_seconds(self):
        """Last visit's time for one photo on this model and back-end, if known."""
        return self.inference_seconds.get(self.engine_key)

    def ensure_running(self):
        if self.runner is None:
            self.runner = asyncio.create_task(self.run_queue())

    async def run_queue(self):
        """Work through the queue, one photo at a time, until nothing waits."""
        try:
            while True:
                job = self.queue.next_waiting()
                if job is None:
                    break
                await self.run_job(job)
                self.after_job(job)
        finally:
            self.runner = None
            self.settle()

    def after_job(self, job):
        """Mark an action done once all its jobs are; bring back the result on screen
        when a photo failed or was cancelled; sum up a batch."""
        self.refresh(job)
        if job.state != state.DONE and job.batch == self.action:
            self.view.restore_shown()
        if self.queue.next_waiting() is None and self.queue.working() is None:
            batch = [other for other in self.queue.jobs if other.batch == job.batch]
            if len(batch) > 1:
                self.status.say(text.batch_done_line(sum(1 for other in batch if other.state == state.DONE),
                                                     sum(1 for other in batch if other.state == state.FAILED)))
        self.settle()

    async def run_job(self, job):
        file = self.files.get(job.id)
        self.queue.start(job.id, now())
        job.options = job.options or self.options_json()
        self.view.start_busy(job.name, job.id, hide_download=not self.pinned)
        self.refresh(job)
        place = self.place_in_batch(job)
        self.status.say("Working on {}{}…".format(job.name, place))
        try:
            if file.type and not file.type.startswith("image/"):
                self.queue.fail(job.id, "This is not an image ({}). Choose a JPEG, PNG or WebP photo.".format(file.type))
                return
            data = await file.arrayBuffer()
            while self.client is None:
                await asyncio.sleep(WAIT_SECONDS)
            if job.finished:
                return                          # cancelled while the file was read
            result = await self.client.cutout(job.id, data, self.model(), job.options, job.downscale,
                                              self.shows_when_done())
            if job.finished:
                return                          # cancelled meanwhile: never drawn
            if not result.ok:
                if result.kind != "cancelled":
                    self.queue.fail(job.id, text.failure(result.kind, result.error),
                                    bool(result.kind == "input" and result.downscale))
                return
            self.queue.finish(job.id, result.width, result.height, now(), result.photo_note or "")
            if self.shows_when_done():
                await self.show_result(job, result)
            else:
                self.client.forget(job.id)      # its mask is kept: it can be shown again
        except Exception as exc:
            window.console.error("{}: {}".format(job.name, exc))
            if job.state == state.DONE:
                self.status.say("{} is done, but it could not be shown: {}".format(job.name, exc), error=True)
            self.queue.fail(job.id, "Something went wrong: {}".format(exc))
        finally:
            self.report_failure(job)
            if job.state in (state.FAILED, state.CANCELLED) and not job.downscalable:
                self.forget_file(job.id)

    def place_in_batch(self, job):
        """` (3 of 10)` while a batch runs, else ''."""
        batch = [other for other in self.queue.jobs if other.batch == job.batch and other.state != state.CANCELLED]
        if len(batch) < 2:
            return ""
        return " ({} of {})".format(batch.index(job) + 1, len(batch))

    def report_failure(self, job):
        if job.state != state.FAILED:
            return
        if job.batch == self.action:
            self.status.say("{}: {}".format(job.name, job.error), error=True)
        if job.downscalable:
            self.too_large = job
            self.downscale_button.hidden = False

    def cancel_job(self, job):
        if self.queue.cancel(job.id):
            self.forget_file(job.id)
            if self.client is not None:
                self.client.cancel(job.id)

    def forget_file(self, job_id):
        if job_id in self.files:
            del self.files[job_id]

    # -- results -------------------------------------------------------------
    async def show_result(self, job, result):
        """Draw a finished job's cutout at once, then make its download. Once drawn, the
        photo is the one on screen (settings changes redo it)."""
        self.show_engine(result)
        self.view.draw(result)
        previous, self.shown = self.shown, job.id
        if previous is not None and previous != job.id:
            self.client.forget(previous)
            old = self.queue.get(previous)
            if old is not None:
                self.list.update(old, self.shown)
        self.list.update(job, self.shown)
        if previous != job.id:
            self.editor.set_photo(self.files.get(job.id))
        self.editor.show_history(job.history)
        self.view.hide_cancel()
        self.view.forget_shown()
        self.editor.render()
        if self.editor.mode == "unsure":
            asyncio.create_task(self.load_unsure())
        await self.offer(job, result, job.remark)

    async def offer(self, job, result, note=""):
        """The details of `result`, then its download on offer; `note` follows "Done."."""
        timings = _timings(result.timings)
        if "inference" in timings:
            self.remember_inference(timings["inference"])
        self.view.show_details(job.name, result.width, result.height, timings)
        seconds = await self.export_shown()
        if seconds is None or job.id != self.shown:
            return
        timings["encode"] = seconds
        timings["total"] += seconds
        self.view.show_details(job.name, result.width, result.height, timings)
        self.view.keep_shown()
        if self.queue.working() is None and self.queue.next_waiting() is None:
            self.status.say(text.done_line(result.photo_note or "", note))

    async def export_shown(self):
        """The photo on screen in the chosen background, size and format, offered for
        download (and shown, when that changes the picture); returns the seconds it took,
        or None if it was not made (an error is said)."""
        job = self.queue.get(self.shown) if self.shown is not None else None
        if job is None:
            return None
        self.exports += 1
        mine = self.exports
        controls = self.export_controls
        if self.queue.working() is None:
            self.status.say("Preparing the {}…".format(controls.short()))
        reply = await self.export(job, json.dumps(controls.layout()))
        if mine != self.exports or job.id != self.shown:
            return None
        if not reply.ok:
            if reply.kind != "cancelled":
                self.status.say("The {} could not be made: {}".format(controls.short(), reply.error), error=True)
            return None
        self.view.offer_download(reply.data, reply.filename, reply.mime, controls.short(),
                                 controls.changes_the_picture())
        self.editor.render()
        return float(reply.seconds)

    async def export_again(self):
        """The download on offer made again after a change of background, size or format."""
        if await self.export_shown() is not None and not self.busy():
            self.status.say("Done.")

    def on_copy(self, event):
        """Copy the photo on screen, as a PNG in the chosen background and size, to the
        clipboard. The clipboard is asked at once (while the click counts as the user's)
        and given the PNG when the worker has made it."""
        job = self.queue.get(self.shown) if self.shown is not None else None
        if job is None or not window.ClipboardItem:
            self.status.say("This browser cannot copy images; use Download.", error=True)
            return
        given = []
        executor = create_proxy(lambda resolve, reject: given.append((resolve, reject)))
        self._proxies.append(executor)
        png = window.Promise.new(executor)
        try:
            writing = window.navigator.clipboard.write([window.ClipboardItem.new(to_js({"image/png": png}))])
        except Exception as exc:
            self.status.say("Could not copy: {}".format(exc), error=True)
            return
        asyncio.create_task(self.copy(job, given[0], writing))

    async def copy(self, job, settle, writing):
        resolve, reject = settle
        self.status.say("Copying {}…".format(job.name))
        try:
            reply = await self.export(job, json.dumps(self.export_controls.layout()), fmt="png")
            if not reply.ok:
                raise RuntimeError(reply.error)
            resolve(blob(reply.data, "image/png"))
            await writing
            self.status.say("Copied {} to the clipboard (PNG).".format(job.name))
        except Exception as exc:
            reject(str(exc))
            self.status.say("Could not copy: {}".format(exc), error=True)

    async def export(self, job, layout_json, into_zip=False, fmt=None, scale=None):
        """`job` in the chosen format and `layout_json`, from the worker (which may need the
        photo's bytes, to make it again, and the background picture's); with "Same scale
        for every photo", at the done photos' common scale (`scale`, if known already)."""
        data = await self.files[job.id].arrayBuffer() if job.id in self.files else None
        picture = self.export_controls.picture
        background = await picture.arrayBuffer() if picture is not None else None
        if scale is None and self.export_controls.one_scale():
            scale = await self.common_scale(layout_json)
        return await self.client.export(job, data, layout_json, fmt or self.export_controls.fmt(),
                                        bool(self.keep_profile.checked), into_zip, background, scale)

    async def common_scale(self, layout_json):
        """The scale at which the largest subject of the done photos fits the square."""
        done = [[job.id, job.width, job.height] for job in self.queue.jobs if job.state == state.DONE]
        reply = await self.client.common_scale(json.dumps(done), layout_json)
        return float(reply.scale) if reply.ok else None

    async def show_job(self, job):
        """The user chose a done photo in the list: it comes on screen (made again from
        its kept mask if its cutout was freed), and stays there while others finish."""
        if job.state != state.DONE or job.id not in self.files:
            return
        self.pinned = True
        self.status.say("Opening {}…".format(job.name))
        data = await self.files[job.id].arrayBuffer()
        result = await self.client.show(job.id, data, job.options, job.downscale, json.dumps(job.history.edits))
        if not result.ok:
            self.status.say(text.failure(result.kind, result.error, job.name), error=True)
            return
        await self.show_result(job, result)
        self.view.result.scrollIntoView()

    async def download_job(self, job):
        """One photo of the list, downloaded in the chosen background, size and format."""
        reply = await self.export(job, json.dumps(self.export_controls.layout()))
        if job.id != self.shown:
            self.client.forget(job.id)
        if not reply.ok:
            self.status.say(text.failure(reply.kind, reply.error, job.name), error=True)
            return
        download(reply.data, reply.filename, reply.mime)

    def on_download_all(self, event):
        if not self.packing:
            asyncio.create_task(self.download_all())

    async def download_all(self):
        """Every done photo in the chosen background, size and format, in one ZIP, with a
        report naming each photo that failed; one photo at a time, so memory stays bounded."""
        jobs = [job for job in self.queue.jobs if job.state == state.DONE]
        problems = [(job.name, job.error) for job in self.queue.jobs if job.state == state.FAILED]
        saved = 0
        controls = self.export_controls
        layout = json.dumps(controls.layout())
        pieces = []
        try:
            scale = await self.common_scale(layout) if controls.one_scale() else None
            await self.client.zip_start()
            for number, job in enumerate(jobs):
                self.packing = text.packing_line(number, len(jobs))
                self.show_summary()
                self.status.say(self.packing)
                reply = await self.export(job, layout, into_zip=True, scale=scale)
                if job.id != self.shown:
                    self.client.forget(job.id)
                if reply.ok:
                    pieces.append(reply.data)
                    saved += 1
                else:
                    problems.append((job.name, reply.error))
            end = await self.client.zip_finish(text.zip_report(problems))
            if not end.ok:
                raise RuntimeError(end.error)
            pieces.append(end.data)
            download(pieces, text.ZIP_NAME, "application/zip")
            self.status.say(text.zip_done_line(saved, len(problems)))
        except Exception as exc:
            self.status.say("The ZIP could not be made: {}".format(exc), error=True)
        finally:
            self.packing = ""
            self.show_summary()

    async def restyle(self):
        """The photo on screen again with the new edge settings (no second inference)."""
        if self.shown is None or self.client is None:
            return
        if self.restyling:
            self.restyle_pending = True
            return
        job = self.queue.get(self.shown)
        self.restyle_pending = False
        self.action += 1
        self.view.mark_request(self.action)
        self.view.start_busy(job.name, cancellable=False)
        self.status.say("Working on {}…".format(job.name))
        self.restyling = True
        options = self.options_json()
        try:
            result = await self.client.restyle(job.id, options, json.dumps(job.history.edits))
            if job.id != self.shown:
                return
            if not result.ok:
                if result.kind != "cancelled":
                    self.status.say(text.failure(result.kind, result.error, job.name), error=True)
                return
            job.options = options
            self.view.draw(result)
            self.view.forget_shown()
            self.editor.unsure = None
            self.editor.render()
            await self.offer(job, result)
        except Exception as exc:
            self.status.say("Something went wrong: {}".format(exc), error=True)
        finally:
            self.restyling = False
            self.view.restore_shown()
            if self.restyle_pending:
                asyncio.create_task(self.restyle())
            else:
                self.settle()

    def settle(self):
        """Once nothing is being worked on: the page is idle and every action is done."""
        if self.busy():
            return
        self.view.end_busy()
        self.status.hide_meter()
        self.view.mark_done(self.action)

    @staticmethod
    def stored_inference_seconds():
        """{"model/backend": seconds} of the last inference on this device (read once)."""
        try:
            return json.loads(window.localStorage.getItem(INFERENCE_KEY) or "{}")
        except Exception:
            return {}

    def remember_inference(self, seconds):
        self.inference_seconds[self.engine_key] = round(seconds, 1)
        window.localStorage.setItem(INFERENCE_KEY, json.dumps(self.inference_seconds))

    def show_engine(self, info):
        """The model and engine that really run (from the worker's reply); a WebGPU
        failure is remembered for this device, a WebGPU success forgets an old one. With
        no model chosen, the menu's default entry names the model the worker chose."""
        if not self.model_select.value:
            self.model_select.options.item(0).textContent = text.default_model_option(info.label)
        self.engine_key = "{}/{}".format(info.model, info.backend)
        self.engine.textContent = text.describe_backend(
            {"label": info.label, "threads": info.threads, "isolated": info.isolated,
             "backend": info.backend, "f16": info.f16, "note": info.note}
        )
        if info.webgpu_failed:
            window.localStorage.setItem(WEBGPU_FAILED_KEY, info.webgpu_failed)
        elif info.backend == "webgpu":
            window.localStorage.removeItem(WEBGPU_FAILED_KEY)


def _timings(js_timings):
    return {key: float(getattr(js_timings, key)) for key in window.Object.keys(js_timings)}


page = Page()
page.wire()
asyncio.create_task(page.boot())
