"""What the page shows, drawn from the page's state: the status line and its meter,
and the result (the cutout on screen, its details and download).

Views write to the DOM only; they never call the worker and hold no state of the
work (that is `app.ui.state`). Imports: `pyscript`, `app.ui.text`.
"""
import json

from pyscript import document, window
from pyscript.ffi import to_js

from app.ui import text


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

    def start_busy(self, name, job_id=None, cancellable=True):
        """Busy with `name` (the photo `job_id` being cut out, if it is one)."""
        if job_id is not None:
            self.result.dataset.job = str(job_id)
        self.result.setAttribute("aria-busy", "true")
        self.result.classList.add("working")
        self.download.hidden = True          # never offer the previous photo's PNG meanwhile
        self.cancel_button.hidden = not cancellable
        self.details.textContent = name
        self.details.dataset.timings = ""

    def end_busy(self):
        self.cancel_button.hidden = True
        self.result.setAttribute("aria-busy", "false")
        self.result.classList.remove("working")

    def hide_cancel(self):
        self.cancel_button.hidden = True

    def draw(self, result):
        self.canvas.width = result.width
        self.canvas.height = result.height
        pixels = window.ImageData.new(result.rgba, result.width, result.height)
        self.canvas.getContext("2d").putImageData(pixels, 0, 0)
        self.canvas.setAttribute("aria-label", "Cutout preview")
        self.result.classList.add("has-image")

    def show_details(self, name, width, height, timings):
        self.details.textContent = "{} · {}×{} · {}".format(name, width, height, text.describe_timings(timings))
        self.details.dataset.timings = json.dumps(timings)

    def offer_download(self, png, filename):
        self.revoke()
        blob = window.Blob.new(to_js([png]), to_js({"type": "image/png"}))
        self.download_url = window.URL.createObjectURL(blob)
        self.download.href = self.download_url
        self.download.setAttribute("download", filename)
        self.download.hidden = False

    def filename(self):
        return self.download.getAttribute("download")

    def keep_shown(self):
        """The finished result on screen: what a failed or cancelled photo brings back."""
        self.kept = {"details": self.details.textContent, "timings": self.details.dataset.timings}

    def restore_shown(self):
        """After a failed or cancelled photo, the previous result is offered again:
        a bad file never costs the user the cutout they already have."""
        if self.kept is None:
            return
        self.details.textContent = self.kept["details"]
        self.details.dataset.timings = self.kept["timings"]
        self.download.hidden = False

    def forget_shown(self):
        """A new image is on the canvas: the previous result and its PNG are gone."""
        self.kept = None
        self.download.removeAttribute("href")
        self.revoke()

    def revoke(self):
        if self.download_url:
            window.URL.revokeObjectURL(self.download_url)
            self.download_url = None
