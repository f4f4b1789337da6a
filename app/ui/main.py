"""The page's main-thread UI (MicroPython): drop / paste / pick a photo, show
progress, draw the cutout over a checkerboard, offer the PNG download.

All heavy work is asked of the Pyodide worker named "cutout" (`app/worker.py`).
Each photo gets a request number; a newer photo supersedes an older one, and a
result that arrives for a superseded request is dropped. Controls and the busy
state are restored in `finally`, so an error never leaves the page stuck.
Imports: `pyscript`, `app.ui.text`, `app.ui.prefetch`.
"""
import asyncio
import json

from pyscript import document, js_import, window, workers
from pyscript.ffi import create_proxy, to_js

from app.ui import prefetch, text

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


def element(id_):
    return document.getElementById(id_)


class Page:
    def __init__(self):
        self.drop_zone = element("drop-zone")
        self.file_input = element("file-input")
        self.status = element("status")
        self.alert = element("alert")        # errors again, for screen readers, at once
        self.keep_profile = element("keep_colour_profile")
        self.meter = element("meter")
        self.result = element("result")
        self.canvas = element("cutout")
        self.download = element("download")
        self.details = element("details")
        self.engine = element("engine")
        self.model_select = element("model")
        self.backend_select = element("backend")
        self.cancel_button = element("cancel")
        self.downscale_button = self.make_downscale_button()
        self.too_large = None      # a photo over the size limit the worker can downscale
        self.worker = None
        self.request = 0
        self.busy = False
        self.loading_model = False
        self.last_file = None      # the photo on screen: settings changes redo it
        self.drawn = 0             # the request whose result is on the canvas
        self.restyle_pending = False
        self.option_defaults = {}
        self.download_url = None
        self.shown = None          # details and timings of the finished result on screen
        self.channel = None        # the worker's progress arrives here (BroadcastChannel)
        self.boot_stage = text.STAGE_LABELS["boot"]    # what starting the worker is at
        self.early_bytes = None    # (received, total) of the model downloading while it starts
        self.engine_key = ""       # "model/backend" of the session the worker has open
        self.inference_seconds = self.stored_inference_seconds()   # by engine_key, this device
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
        self.listen(self.cancel_button, "click", self.on_cancel)
        self.listen(self.downscale_button, "click", self.on_downscale)
        self.listen(element("backdrop"), "change", self.on_backdrop)
        self.listen(self.keep_profile, "change", self.on_profile_change)
        self.keep_profile.checked = window.localStorage.getItem(PROFILE_KEY) != "0"
        self.restore_model_choice()
        self.say_boot()
        asyncio.create_task(self.download_early())
        self.drop_zone.classList.remove("booting")
        if self.file_input.files and self.file_input.files.length:
            self.on_pick(None)          # chosen before these handlers existed: never lost

    def on_pick(self, event):
        self.take_files(self.file_input.files)
        self.file_input.value = ""      # so that choosing the same file again is seen too

    def on_drag_over(self, event):
        event.preventDefault()
        self.drop_zone.classList.add("dragging")

    def on_drag_leave(self, event):
        self.drop_zone.classList.remove("dragging")

    def on_drop(self, event):
        event.preventDefault()
        self.drop_zone.classList.remove("dragging")
        self.take_files(event.dataTransfer.files)

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
        if self.worker is None:
            self.say(text.boot_line(self.boot_stage, self.early_bytes))

    def on_early_bytes(self, received, total):
        self.early_bytes = (int(received), int(total))
        self.say_boot()

    def on_worker_progress(self, event):
        """The worker's progress, pushed as it happens: shown only while the page waits
        for it (never over "Done." or an error), and never an older request's stage."""
        if not (self.busy or self.loading_model):
            return
        status = json.loads(str(event.data))
        if status.get("phase") == "work" and status.get("request") != self.request:
            return
        line = text.describe_progress(status, self.inference_seconds.get(self.engine_key))
        if line:
            self.say(line)
        self.show_meter(status)

    def on_backdrop(self, event):
        """Show the cutout over a checkerboard, white or black: fringes show on plain colours."""
        for name in ("white", "black"):
            self.result.classList.toggle("on-" + name, event.target.value == name)

    def on_cancel(self, event):
        """Stop waiting for the photo being worked on; the previous result comes back."""
        if not self.busy:
            return
        request = self.begin("")
        if self.worker is not None:
            self.worker.cancel(request)          # a promise; nothing to wait for
        self.finish(request)
        self.say("Cancelled.")

    def on_downscale(self, event):
        """The user agrees: the photo over the size limit again, downscaled to fit."""
        if self.too_large is not None:
            asyncio.create_task(self.process(self.too_large, downscale=True))

    def on_option_change(self, event):
        window.localStorage.setItem(OPTIONS_KEY, self.options_json())
        asyncio.create_task(self.restyle())

    def on_slider_input(self, event):
        self.show_slider_values()

    def on_reset_options(self, event):
        self.set_options(self.option_defaults)
        self.on_option_change(event)

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

    def on_model_change(self, event):
        asyncio.create_task(self.switch_model())

    def on_backend_change(self, event):
        window.localStorage.setItem(BACKEND_KEY, self.backend_select.value)
        asyncio.create_task(self.switch_model())

    async def switch_model(self):
        """Remember and load the chosen model, then redo the photo on screen with it."""
        window.localStorage.setItem(MODEL_KEY, self.model())
        if await self.prepare_model() and self.last_file is not None and not self.busy:
            await self.process(self.last_file)

    def take_files(self, files):
        if not files or not files.length:
            return
        note = ""
        if files.length > 1:
            note = "Took the first of {} files (one photo at a time for now).".format(files.length)
        asyncio.create_task(self.process(files.item(0), note))

    # -- work ----------------------------------------------------------------
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

    async def download_early(self):
        """Start downloading the model while Python starts in the worker, when it is sure
        which file the worker will want (app/ui/prefetch.py): the worker then takes it from
        the cache or waits for this download (static/model-store.js). Any failure here is
        left for the worker to meet and explain."""
        try:
            if not window.caches:
                return                  # no Cache Storage here: the worker could not reuse it
            base = window.location.href
            modules = await js_import(window.URL.new("static/webgpu-support.js", base).href,
                                      window.URL.new("static/model-store.js", base).href)
            store = modules[1]
            support = await modules[0].webgpuSupport()
            with open("models/manifest.json") as f:
                manifest = json.load(f)
            with open("models/defaults.json") as f:
                defaults = json.load(f)
            entry = prefetch.early_download(manifest, defaults, self.model(),
                                            self.backend_select.value or "auto", bool(support.available))
            if entry is None:
                return
            progress = create_proxy(self.on_early_bytes)
            self._proxies.append(progress)
            await store.prefetchModel("models/" + entry["file"], entry["bytes"], entry["sha256"], progress)
        except Exception as exc:
            window.console.warn("early model download: {}".format(exc))

    async def boot(self):
        """Wait for the worker, have it push its progress here, then fetch the model at once."""
        try:
            worker = await workers["cutout"]
            name = "cutout-progress-{}".format(window.Math.random())    # this page's own channel
            self.channel = window.BroadcastChannel.new(name)
            self.listen(self.channel, "message", self.on_worker_progress)
            await worker.report_to(name)
        except Exception as exc:
            self.say("The engine could not start: {}. Reload the page to try again.".format(exc), error=True)
            return
        self.worker = worker
        await self.prepare_model()

    async def prepare_model(self):
        self.loading_model = True
        try:
            failed_before = window.localStorage.getItem(WEBGPU_FAILED_KEY) or ""
            info = await self.worker.prepare(self.model(), self.backend_select.value or "auto", failed_before)
        finally:
            self.loading_model = False
        if not info.ok:
            self.say(text.failure(info.kind, info.error), error=True)
            return False
        if not self.option_defaults:
            self.restore_options(info.defaults)
        self.show_engine(info)
        if not self.busy:
            self.say("Ready. Drop a photo, paste one, or choose a file.")
        return True

    async def process(self, file, note="", downscale=False):
        """Cut out `file` with the chosen model and edge settings (`downscale`: to fit the
        size limit, as the user agreed)."""
        request = self.begin(file.name)
        try:
            if file.type and not file.type.startswith("image/"):
                self.say("{} is not an image ({}). Choose a JPEG, PNG or WebP photo.".format(file.name, file.type), error=True)
                return
            data = await file.arrayBuffer()
            while self.worker is None:
                await asyncio.sleep(WAIT_SECONDS)
            result = await self.worker.cutout(request, data, self.model(), self.options_json(), downscale)
            await self.show_result(request, file, result, note)
        except Exception as exc:
            if request == self.request:
                self.say("Something went wrong: {}".format(exc), error=True)
        finally:
            self.finish(request)

    async def restyle(self):
        """The photo on screen again with the new edge settings (no second inference)."""
        if self.last_file is None or self.worker is None:
            return
        if self.busy:
            self.restyle_pending = True
            return
        file = self.last_file
        request = self.begin(file.name)
        try:
            result = await self.worker.restyle(request, self.options_json())
            await self.show_result(request, file, result)
        except Exception as exc:
            if request == self.request:
                self.say("Something went wrong: {}".format(exc), error=True)
        finally:
            self.finish(request)

    def begin(self, name):
        """A new request: supersedes any older one; returns its number."""
        self.request += 1
        self.restyle_pending = False
        self.downscale_button.hidden = True
        self.result.dataset.request = str(self.request)
        self.start_busy(name)
        return self.request

    def finish(self, request):
        if request != self.request:
            return
        if self.download.hidden:
            self.restore_shown()
        self.end_busy()
        self.result.dataset.done = str(request)
        if self.restyle_pending:
            asyncio.create_task(self.restyle())

    async def show_result(self, request, file, result, note=""):
        """Draw a worker result at once, then get its PNG and offer the download.

        Once drawn, the photo is the one on screen (settings changes redo it) and
        nothing is left to cancel; its PNG is offered even if a newer file came
        meanwhile, unless a newer result has been drawn over it."""
        name = file.name
        if request != self.request:
            return
        if not result.ok:
            if result.kind != "cancelled":
                self.say(text.failure(result.kind, result.error, name), error=True)
            if result.kind == "input" and result.downscale:
                self.too_large = file
                self.downscale_button.hidden = False
            return
        photo_note = result.photo_note or ""
        self.show_engine(result)
        self.draw(result)
        self.drawn = request
        self.last_file = file
        self.cancel_button.hidden = True
        self.forget_shown()
        timings = _timings(result.timings)
        if "inference" in timings:
            self.remember_inference(timings["inference"])
        self.show_details(name, result, timings)
        self.say("Preparing the PNG…")
        encoded = await self.worker.encode_png(request, bool(self.keep_profile.checked))
        if request != self.drawn:
            return
        if not encoded.ok:
            if encoded.kind != "cancelled":
                self.say("The PNG could not be made: {}".format(encoded.error), error=True)
            return
        timings["encode"] = float(encoded.seconds)
        timings["total"] += timings["encode"]
        self.details.dataset.timings = json.dumps(timings)
        self.show_details(name, result, timings)
        filename = text.cutout_filename(name)
        self.offer_download(encoded.png, filename)
        self.shown = {"details": self.details.textContent, "timings": self.details.dataset.timings}
        if request == self.request:
            self.say(text.done_line(photo_note, note))

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

    # -- view ----------------------------------------------------------------
    def say(self, message, error=False):
        self.status.textContent = message
        self.status.classList.toggle("error", error)
        self.alert.textContent = message if error else ""

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

    def show_meter(self, status):
        """Model bytes while downloading; no figure while the model is opened (its time
        is unknown); the stage reached while a photo is worked on."""
        stage = status.get("stage") or ""
        total = status.get("total") or 0
        if stage == "fetch:model" and total:
            self.meter.max = total
            self.meter.value = status.get("received") or 0
        elif stage in ("find:model", "open:model", "check:webgpu"):
            self.meter.removeAttribute("value")          # indeterminate
        elif stage in text.PHOTO_STAGES:
            self.meter.max = len(text.PHOTO_STAGES)
            self.meter.value = text.PHOTO_STAGES.index(stage)
        self.meter.hidden = not (stage in ("find:model", "fetch:model", "open:model", "check:webgpu")
                                 or stage in text.PHOTO_STAGES)

    def make_downscale_button(self):
        """The offer to downscale a photo over the size limit, after the status line
        (hidden until the worker says a photo can be)."""
        button = document.createElement("button")
        button.type = "button"
        button.id = "downscale"
        button.className = "button"
        button.textContent = text.DOWNSCALE_BUTTON
        button.hidden = True
        self.status.insertAdjacentElement("afterend", button)
        return button

    def start_busy(self, name):
        self.busy = True
        self.result.setAttribute("aria-busy", "true")
        self.result.classList.add("working")
        self.download.hidden = True          # never offer the previous photo's PNG meanwhile
        self.cancel_button.hidden = False
        self.details.textContent = name
        self.details.dataset.timings = ""
        self.say("Working on {}…".format(name))

    def end_busy(self):
        self.busy = False
        self.cancel_button.hidden = True
        self.meter.hidden = True
        self.result.setAttribute("aria-busy", "false")
        self.result.classList.remove("working")

    def show_details(self, name, result, timings):
        self.details.textContent = "{} · {}×{} · {}".format(
            name, result.width, result.height, text.describe_timings(timings)
        )

    def draw(self, result):
        self.canvas.width = result.width
        self.canvas.height = result.height
        pixels = window.ImageData.new(result.rgba, result.width, result.height)
        self.canvas.getContext("2d").putImageData(pixels, 0, 0)
        self.canvas.setAttribute("aria-label", "Cutout preview")
        self.result.classList.add("has-image")

    def on_profile_change(self, event):
        window.localStorage.setItem(PROFILE_KEY, "1" if self.keep_profile.checked else "0")
        if self.drawn and not self.busy:
            asyncio.create_task(self.encode_again(self.drawn))

    async def encode_again(self, request):
        """The PNG on offer made again, with or without the colour profile as now chosen."""
        encoded = await self.worker.encode_png(request, bool(self.keep_profile.checked))
        if encoded.ok and request == self.drawn and not self.busy:
            self.offer_download(encoded.png, self.download.getAttribute("download"))

    def offer_download(self, png, filename):
        blob = window.Blob.new(to_js([png]), to_js({"type": "image/png"}))
        self.download_url = window.URL.createObjectURL(blob)
        self.download.href = self.download_url
        self.download.setAttribute("download", filename)
        self.download.hidden = False

    def restore_shown(self):
        """After a failed or cancelled photo, the previous result is offered again:
        a bad file never costs the user the cutout they already have."""
        if self.shown is None:
            return
        self.details.textContent = self.shown["details"]
        self.details.dataset.timings = self.shown["timings"]
        self.download.hidden = False

    def forget_shown(self):
        """A new image is on the canvas: the previous result and its PNG are gone."""
        self.shown = None
        self.download.removeAttribute("href")
        if self.download_url:
            window.URL.revokeObjectURL(self.download_url)
            self.download_url = None


def _timings(js_timings):
    return {key: float(getattr(js_timings, key)) for key in window.Object.keys(js_timings)}


page = Page()
page.wire()
asyncio.create_task(page.boot())
