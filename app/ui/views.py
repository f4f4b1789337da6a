"""What the page shows, drawn from the page's state: the status line and its meter,
the result (the cutout on screen, its details and download), the list of photos,
and the export controls (read into the worker's `Layout` fields).

Views write to the DOM only; they never call the worker and hold no state of the
work (that is `app.ui.state`). Imports: `pyscript`, `app.ui.text`.
"""
import json

from pyscript import document, window
from pyscript.ffi import to_js

from app.ui import state, text


def element(id_):
    return document.getElementById(id_)


# The worker's model stages the meter shows without a figure (their time is unknown).
MODEL_STAGES = ("find:model", "open:model", "check:webgpu")


class StatusView:
    """The status line (a polite live region), errors again in an alert region, and the meter."""

    def __init__(self):
        self.status = element("status")
        self.alert = element("alert")        # errors again, for screen readers, at once
        self.meter = element("meter")

    def say(self, message, error=False):
        self.status.textContent = message
        self.status.classList.toggle("error", error)
        self.alert.textContent = message if error else ""

    def show_meter(self, status):
        """Model bytes while downloading; no figure while the model is opened (its time
        is unknown); the stage reached while a photo is worked on."""
        stage = status.get("stage") or ""
        total = status.get("total") or 0
        if stage == "fetch:model" and total:
            self.meter.max = total
            self.meter.value = status.get("received") or 0
        elif stage in MODEL_STAGES:
            self.meter.removeAttribute("value")          # indeterminate
        elif stage in text.PHOTO_STAGES:
            self.meter.max = len(text.PHOTO_STAGES)
            self.meter.value = text.PHOTO_STAGES.index(stage)
        self.meter.hidden = not (stage == "fetch:model" or stage in MODEL_STAGES or stage in text.PHOTO_STAGES)

    def hide_meter(self):
        self.meter.hidden = True

    def make_button_after_status(self, id_, label):
        """A button right after the status line, hidden until needed."""
        button = document.createElement("button")
        button.type = "button"
        button.id = id_
        button.className = "button"
        button.textContent = label
        button.hidden = True
        self.status.insertAdjacentElement("afterend", button)
        return button


class ResultView:
    """The cutout on screen over its backdrop, its details line, its download and the
    Cancel button for the photo being worked on."""

    def __init__(self):
        self.result = element("result")
        self.canvas = element("cutout")
        self.download = element("download")
        self.details = element("details")
        self.cancel_button = element("cancel")
        self.copy_button = element("copy")
        self.preview = element("preview")      # the exported file, when it differs from the cutout
        self.first_look = element("first-look")   # a photo's rough cutout while its full one is made
        self.download_url = None
        self.kept = None          # details and timings of the finished result on screen

    def set_backdrop(self, name):
        """Checkerboard, white or black: fringes show on plain colours."""
        for colour in ("white", "black"):
            self.result.classList.toggle("on-" + colour, name == colour)

    def mark_request(self, request):
        self.result.dataset.request = str(request)

    def mark_done(self, request):
        self.result.dataset.done = str(request)

    def start_busy(self, name, job_id=None, cancellable=True, hide_download=True):
        """Busy with `name` (the photo `job_id` being cut out, if it is one); with
        `hide_download`, the result on screen is about to be replaced: its download is
        not offered meanwhile."""
        if job_id is not None:
            self.result.dataset.job = str(job_id)
        self.result.setAttribute("aria-busy", "true")
        self.cancel_button.hidden = not cancellable
        if hide_download:
            self.result.classList.add("working")
            self.download.hidden = self.copy_button.hidden = True
            self.details.textContent = name
            self.details.dataset.timings = ""

    def show_first_look(self, rgba, width, height, name):
        """`name`'s rough cutout (`app.core.pipeline.first_look`) in place of the result,
        until its full cutout is drawn or the photo fails or is cancelled (then the previous
        result, untouched underneath, comes back)."""
        self.first_look.width, self.first_look.height = width, height
        self.first_look.getContext("2d").putImageData(window.ImageData.new(rgba, width, height), 0, 0)
        self.first_look.setAttribute("aria-label", "First look at {}: the full cutout follows".format(name))
        self.result.classList.add("looking")
        self.details.textContent = "{} · first look; refining…".format(name)

    def end_first_look(self):
        self.result.classList.remove("looking")

    def end_busy(self):
        self.end_first_look()
        self.cancel_button.hidden = True
        self.result.setAttribute("aria-busy", "false")
        self.result.classList.remove("working")

    def hide_cancel(self):
        self.cancel_button.hidden = True

    def draw(self, result):
        self.end_first_look()
        self.canvas.width = result.width
        self.canvas.height = result.height
        pixels = window.ImageData.new(result.rgba, result.width, result.height)
        self.canvas.getContext("2d").putImageData(pixels, 0, 0)
        self.canvas.setAttribute("aria-label", "Cutout preview")
        self.result.classList.add("has-image")

    def show_details(self, name, width, height, timings):
        self.details.textContent = "{} · {}×{} · {}".format(name, width, height, text.describe_timings(timings))
        self.details.dataset.timings = json.dumps(timings)

    def offer_download(self, data, filename, mime="image/png", short="PNG", preview=False):
        """Offer `data` as `filename`; `preview`: show that file in place of the cutout (a
        background, a frame or a format changes what is downloaded)."""
        self.revoke()
        self.download_url = window.URL.createObjectURL(blob(data, mime))
        self.download.href = self.download_url
        self.download.setAttribute("download", filename)
        self.download.textContent = "Download " + short
        self.download.hidden = False
        self.copy_button.hidden = False
        if preview:
            self.preview.src = self.download_url
            self.preview.alt = "Preview of " + filename
        self.preview.setAttribute("data-wanted", "1" if preview else "")     # EditorView.render shows it

    def keep_shown(self):
        """The finished result on screen: what a failed or cancelled photo brings back."""
        self.kept = {"details": self.details.textContent, "timings": self.details.dataset.timings}

    def restore_shown(self):
        """After a failed or cancelled photo, the previous result is offered again:
        a bad file never costs the user the cutout they already have."""
        self.end_first_look()
        if self.kept is None:
            return
        self.details.textContent = self.kept["details"]
        self.details.dataset.timings = self.kept["timings"]
        self.download.hidden = self.copy_button.hidden = False

    def forget_shown(self):
        """A new image is on the canvas: the previous result and its PNG are gone."""
        self.kept = None
        self.download.removeAttribute("href")
        self.revoke()

    def revoke(self):
        if self.download_url:
            window.URL.revokeObjectURL(self.download_url)
            self.download_url = None


def blob(data, mime):
    """A Blob of `data` (bytes, or a list of pieces to join) of type `mime`."""
    return window.Blob.new(to_js(data if isinstance(data, list) else [data]), to_js({"type": mime}))


def download(data, filename, mime):
    """Save `data` as `filename` now, as a click on a download link does."""
    url = window.URL.createObjectURL(blob(data, mime))
    link = document.createElement("a")
    link.href = url
    link.download = filename
    document.body.appendChild(link)
    link.click()
    link.remove()
    window.setTimeout(lambda: window.URL.revokeObjectURL(url), 60000)


class QueueView:
    """The list of photos: each one's name, state and actions (show, download, cancel),
    and the whole batch's progress with the time left. Shown once there are two or more."""

    def __init__(self):
        self.section = element("queue")
        self.list = element("jobs")
        self.summary = element("queue-summary")
        self.meter = element("queue-meter")
        self.download_all = element("download-all")
        self.cancel_all = element("cancel-all")
        self.clear = element("clear-queue")
        self.items = {}          # job id -> its <li>

    def update(self, job, shown=None):
        """Create or refresh `job`'s entry."""
        item = self.items.get(job.id)
        if item is None:
            item = document.createElement("li")
            item.dataset.job = str(job.id)
            self.items[job.id] = item
            self.list.appendChild(item)
        item.dataset.state = job.state
        item.classList.toggle("shown", job.id == shown)
        item.innerHTML = ""
        name = document.createElement("button" if job.state == state.DONE else "span")
        name.className = "job-name"
        name.textContent = job.name
        if job.state == state.DONE:
            name.type = "button"
            name.dataset.action = "show"
            name.setAttribute("aria-label", "Show " + job.name)
            if job.id == shown:
                name.setAttribute("aria-current", "true")
        item.appendChild(name)
        line = document.createElement("span")
        line.className = "job-state"
        line.textContent = text.job_line(job)
        item.appendChild(line)
        if job.state == state.DONE:
            item.appendChild(self._button("download", "Download", "Download " + job.name))
        elif not job.finished:
            item.appendChild(self._button("cancel", "Cancel", "Cancel " + job.name))

    @staticmethod
    def _button(action, label, name):
        button = document.createElement("button")
        button.type = "button"
        button.className = "job-action"
        button.dataset.action = action
        button.textContent = label
        button.setAttribute("aria-label", name)
        return button

    def remove(self, job_id):
        item = self.items.pop(job_id, None)
        if item is not None:
            item.remove()

    def show_summary(self, queue, now, fallback=None, packing=""):
        """The batch's line and meter, and which of its buttons apply now."""
        active = queue.active()
        self.section.hidden = len(queue.jobs) < 2
        finished = sum(1 for job in active if job.finished)
        self.meter.max = max(len(active), 1)
        self.meter.value = finished
        self.summary.textContent = packing or queue.summary(now, fallback)
        unfinished = any(not job.finished for job in queue.jobs)
        self.cancel_all.hidden = not unfinished
        self.clear.hidden = not any(job.finished for job in queue.jobs)
        self.download_all.disabled = bool(packing) or queue.count(state.DONE) == 0


class ExportControls:
    """Background, shadow, size and format: read as the worker's `Layout` fields and a
    format name, remembered on this device. The menus' choices come from the worker."""

    KEY = "cutout.export"

    def __init__(self):
        self.background = element("background")
        self.colour = element("colour")
        self.colour_field = element("colour-field")
        self.shadow = element("shadow")
        self.frame = element("frame")
        self.margin = element("margin")
        self.margin_field = element("margin-field")
        self.format = element("format")
        self.same_scale = element("same-scale")
        self.same_scale_field = element("same-scale-field")
        self.picture_input = element("background-file")
        self.picture_field = element("picture-field")
        self.picture = None         # the File of the user's background picture, once chosen
        self.controls = (self.background, self.colour, self.shadow, self.frame, self.margin, self.format,
                         self.same_scale)
        self.formats = {"png": ("PNG (transparent)", "PNG")}
        self.margin_range = (0.0, 40.0)      # until the worker names the core's limits

    def fill(self, choices):
        """The worker's formats and square sizes as menu entries, then the saved choices."""
        self.formats = {key: (label, short) for key, label, short in choices["formats"]}
        self.format.innerHTML = ""
        for key, label, short in choices["formats"]:
            self.format.appendChild(_option(key, label))
        for size in choices["squares"]:
            self.frame.appendChild(_option("square-{}".format(size), "Square {0} × {0} px".format(size)))
        self.margin_range = choices["margin"]
        self.margin.min, self.margin.max = str(self.margin_range[0]), str(self.margin_range[1])
        saved = window.localStorage.getItem(self.KEY)
        if saved:
            try:
                values = json.loads(str(saved))
                for control in self.controls:
                    if control.id in values:
                        if control.type == "checkbox":
                            control.checked = bool(values[control.id])
                        else:
                            control.value = str(values[control.id])
            except ValueError:
                window.localStorage.removeItem(self.KEY)
        self.format.value = self.format.value or "png"
        self.show_fields()

    def remember(self):
        values = {}
        for control in self.controls:
            values[control.id] = bool(control.checked) if control.type == "checkbox" else str(control.value)
        window.localStorage.setItem(self.KEY, json.dumps(values))
        self.show_fields()

    def show_fields(self):
        self.colour_field.hidden = self.background.value != "colour"
        self.picture_field.hidden = self.background.value != "picture"
        self.margin_field.hidden = self.frame.value == "photo"
        self.same_scale_field.hidden = not self.frame.value.startswith("square-")

    def layout(self):
        """The `Layout` fields, as a dict."""
        background = self.background.value
        if background == "picture":
            # Until a picture is chosen (it is never remembered across visits): transparent.
            background = "image" if self.picture is not None else "transparent"
        frame = self.frame.value
        values = {"background": "colour" if background == "white" else background,
                  "colour": "#ffffff" if background == "white" else str(self.colour.value),
                  "shadow": bool(self.shadow.checked),
                  "frame": "square" if frame.startswith("square-") else frame}
        if frame.startswith("square-"):
            values["size"] = int(frame.split("-")[1])
        try:
            values["margin"] = min(max(float(self.margin.value), self.margin_range[0]), self.margin_range[1])
        except ValueError:
            values["margin"] = 5.0
        return values

    def one_scale(self):
        """Whether every photo's subject is drawn at one scale (squares only)."""
        return bool(self.same_scale.checked) and self.frame.value.startswith("square-")

    def fmt(self):
        return self.format.value or "png"

    def short(self):
        return self.formats.get(self.fmt(), ("", "PNG"))[1]

    def changes_the_picture(self):
        """Whether the download looks other than the cutout on its checkerboard."""
        layout = self.layout()
        return (layout["background"] != "transparent" or layout["shadow"] or layout["frame"] != "photo"
                or self.fmt() in ("jpeg", "mask"))


def _option(value, label):
    option = document.createElement("option")
    option.value = value
    option.textContent = label
    return option


class EditorView:
    """The cutout on screen as the user looks at it: zoom (fit or a step), scrolled to
    pan; a view of the cutout, the photo before and after (a slider), the mask alone or
    where the model was unsure; and the brush's trace while a stroke is painted."""

    def __init__(self):
        self.viewport = element("viewport")
        self.layers = element("layers")
        self.canvas = element("cutout")
        self.overlay = element("overlay")
        self.before = element("before")
        self.compare = element("compare")
        self.preview = element("preview")
        self.undo_button = element("undo")
        self.redo_button = element("redo")
        self.reset_button = element("reset-mask")
        self.brush_size = element("brush-size")
        self.hardness = element("hardness")
        self.snap = element("snap")
        self.view = state.View()
        self.unsure = None          # (width, height, rgba) of the unsure overlay of the photo on screen
        self.before_url = None

    # -- what is shown ---------------------------------------------------------
    def set_photo(self, file):
        """The original photo under the cutout, for "Before / after"."""
        if self.before_url:
            window.URL.revokeObjectURL(self.before_url)
        self.before_url = window.URL.createObjectURL(file) if file is not None else None
        if self.before_url:
            self.before.src = self.before_url
        self.unsure = None

    @property
    def mode(self):
        return self.view.mode

    def set_mode(self, mode):
        self.view.set_mode(mode)
        self.render()

    def render(self):
        """Lay the layers out for the view and zoom (after any new cutout or overlay)."""
        width, height = self.canvas.width, self.canvas.height
        comparing = self.mode == "compare" and self.before_url is not None
        self.before.hidden = not comparing
        self.compare.hidden = not comparing
        # The photo over the cutout, cut off at the slider: before on the left, after on the right.
        self.view.compare = int(self.compare.value)
        self.before.style.clipPath = "inset(0 {}% 0 0)".format(100 - self.view.compare) if comparing else ""
        overlay = self.mode in ("mask", "unsure")
        self.overlay.hidden = not overlay
        # The download's own picture (a background, a square) while only looking at it;
        # the cutout itself while comparing, viewing the mask or editing.
        tool = self.viewport.getAttribute("data-tool") or "move"
        preview = self.preview.getAttribute("data-wanted") == "1" and self.mode == "cutout" and tool == "move"
        self.preview.hidden = not preview
        self.canvas.hidden = preview
        # The brush's controls while a brush is chosen; the backdrop choice while the
        # checkerboard can show through (not under a file with its own background).
        element("brush").hidden = tool not in ("restore", "erase")
        element("backdrop").hidden = preview
        if overlay:
            self.draw_overlay()
        zoom = self.view.zoom
        if zoom is None:
            self.layers.style.width = ""
            self.layers.classList.add("fit")
        else:
            self.layers.classList.remove("fit")
            self.layers.style.width = "{}px".format(int(width * zoom))
        self.viewport.classList.toggle("zoomed", zoom is not None)

    def show_change(self, change):
        """Where the last edit changed the cutout (`change`: {width, height, rgba}), laid
        over it for a moment (the style fades it; `hide_change` takes it away)."""
        canvas = element("change")
        canvas.width, canvas.height = change.width, change.height
        canvas.getContext("2d").putImageData(window.ImageData.new(change.rgba, change.width, change.height), 0, 0)
        canvas.classList.remove("shown")
        canvas.getBoundingClientRect()          # a layout between: the fade starts again
        canvas.classList.add("shown")

    def hide_change(self):
        element("change").classList.remove("shown")

    def draw_overlay(self):
        """The mask alone (white where kept, over black), or the cutout with the model's
        unsure areas in red. Drawn by the canvas itself: no pixel loop here."""
        width, height = self.canvas.width, self.canvas.height
        self.overlay.width, self.overlay.height = width, height
        context = self.overlay.getContext("2d")
        context.globalCompositeOperation = "source-over"
        context.clearRect(0, 0, width, height)
        if self.mode == "mask":
            context.drawImage(self.canvas, 0, 0)
            context.globalCompositeOperation = "source-in"
            context.fillStyle = "#fff"
            context.fillRect(0, 0, width, height)
            context.globalCompositeOperation = "destination-over"
            context.fillStyle = "#000"
            context.fillRect(0, 0, width, height)
            context.globalCompositeOperation = "source-over"
        elif self.mode == "unsure" and self.unsure is not None:
            context.globalAlpha = 0.5            # the cutout faded, so that the red stands out
            context.drawImage(self.canvas, 0, 0)
            context.globalAlpha = 1
            small = document.createElement("canvas")
            small.width, small.height = self.unsure[0], self.unsure[1]
            small.getContext("2d").putImageData(window.ImageData.new(self.unsure[2], self.unsure[0],
                                                                     self.unsure[1]), 0, 0)
            context.drawImage(small, 0, 0, width, height)

    # -- zoom ------------------------------------------------------------------
    def fit_scale(self):
        """The scale the photo is shown at now (screen pixels per photo pixel)."""
        if self.view.zoom is not None:
            return self.view.zoom
        return self.canvas.getBoundingClientRect().width / max(self.canvas.width, 1)

    def zoom_by(self, steps, around=None):
        """One step in or out (`steps` +1/-1), keeping the point `around` (client x, y)
        or the middle of the view where it is."""
        self.zoom_to(self.view.step(self.fit_scale(), steps), around)

    def zoom_to(self, zoom, around=None):
        box = self.viewport.getBoundingClientRect()
        rect = self.canvas.getBoundingClientRect()
        if around is None:
            around = (box.left + box.width / 2, box.top + box.height / 2)
        # The image point under `around`, kept there after zooming.
        x = (around[0] - rect.left) / max(rect.width, 1) * self.canvas.width
        y = (around[1] - rect.top) / max(rect.height, 1) * self.canvas.height
        self.view.zoom = zoom
        self.render()
        self.viewport.scrollLeft = x * zoom - (around[0] - box.left)
        self.viewport.scrollTop = y * zoom - (around[1] - box.top)

    def fit(self):
        self.view.zoom = None
        self.render()

    # -- pointer ---------------------------------------------------------------
    def image_point(self, event):
        """The photo's pixel coordinates (x, y) under the pointer."""
        rect = self.canvas.getBoundingClientRect()
        return ((event.clientX - rect.left) / max(rect.width, 1) * self.canvas.width,
                (event.clientY - rect.top) / max(rect.height, 1) * self.canvas.height)

    def brush_radius(self):
        """The brush's radius in photo pixels: its size is in screen pixels, at any zoom."""
        return max(0.5, float(self.brush_size.value) / 2 / max(self.fit_scale(), 1e-6))

    def trace(self, points, radius, erase):
        """The stroke being painted, drawn over the cutout until the worker's result comes."""
        if len(points) == 0:
            return
        if self.overlay.hidden or self.overlay.width != self.canvas.width:
            self.overlay.width, self.overlay.height = self.canvas.width, self.canvas.height
            self.overlay.hidden = False
        context = self.overlay.getContext("2d")
        context.globalCompositeOperation = "source-over"
        context.strokeStyle = "rgba(220, 40, 40, 0.55)" if erase else "rgba(30, 160, 80, 0.55)"
        context.fillStyle = context.strokeStyle
        context.lineWidth = radius * 2
        context.lineCap = "round"
        context.lineJoin = "round"
        context.beginPath()
        context.moveTo(points[0][0], points[0][1])
        for x, y in points[1:]:
            context.lineTo(x, y)
        if len(points) == 1:
            context.arc(points[0][0], points[0][1], radius, 0, 6.2832)
            context.fill()
        else:
            context.stroke()

    def show_history(self, history):
        self.undo_button.disabled = not history.can_undo()
        self.redo_button.disabled = not history.can_redo()
        self.reset_button.disabled = not history.edits
