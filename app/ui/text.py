"""Words and numbers the page shows: file names, sizes, stages, timings.

Pure functions; MicroPython- and CPython-compatible (tested under CPython).
Imports: nothing.
"""

STAGE_LABELS = {
    "boot": "Starting the engine",
    "check:webgpu": "Checking that the graphics card (WebGPU) computes correctly",
    "find:model": "Looking for the model on this device",
    "fetch:model": "Downloading the model",
    "open:model": "Checking and opening the model",
    "decode": "Reading the photo",
    "first_look": "Taking a first look",
    "preprocess": "Preparing the photo for the model",
    "inference": "Finding the subject",
    "mirror": "Looking again, at the mirror image",
    "postprocess": "Refining the edges at full resolution",
    "encode": "Making the PNG",
}


# PyScript's own start-up progress messages, in words for people.
BOOT_LABELS = {
    "Loading Pyodide": "Starting Python in the background",
    "Loading Storage": "Starting Python in the background",
    "Loaded Storage": "Starting Python in the background",
    "Loading files": "Unpacking the app",
    "Loaded files": "Unpacking the app",
    "Loading JS modules": "Loading the inference engine",
    "Loaded JS modules": "Loading the inference engine",
    "Loaded Pyodide": "Python is ready; preparing the model",
}


def boot_label(message):
    """A PyScript progress message as the page shows it (unknown ones: a general line)."""
    return BOOT_LABELS.get(message, STAGE_LABELS["boot"])


def boot_line(stage, early_bytes=None):
    """`Starting Python in the background…`, and while the model downloads at the same
    time, `… · model 12.3 MB of 44.5 MB` (then `… · model on this device`)."""
    line = stage + "…"
    if early_bytes:
        received, total = early_bytes
        if received >= total:
            return line + " · model on this device"
        return line + " · model {} of {}".format(format_bytes(received), format_bytes(total))
    return line


# The stages of one photo, in order (the page's progress bar counts them).
PHOTO_STAGES = ("decode", "first_look", "preprocess", "inference", "mirror", "postprocess", "encode")


def format_bytes(count):
    """Bytes as people read them: `512 B`, `44.3 MB`."""
    if count < 1000:
        return "{} B".format(int(count))
    for unit in ("kB", "MB", "GB"):
        count /= 1000
        if count < 1000 or unit == "GB":
            return "{:.1f} {}".format(count, unit)


def format_pixels(value):
    """Slider read-out: `0 px`, `+1.5 px`, `-2 px`."""
    if value == 0:
        return "0 px"
    shown = "{:.1f}".format(value).replace(".0", "")
    return ("+" if value > 0 else "") + shown + " px"


def stage_label(stage):
    return STAGE_LABELS.get(stage, stage)


def describe_progress(status, expected_inference=None):
    """One line for the live region from a worker status dict, or '' when idle; while the
    model runs, with how long it took on this device last time (seconds), if known."""
    stage = status.get("stage") or ""
    if stage == "inference" and expected_inference:
        return "{}… (about {} s on this device last time)".format(
            stage_label(stage), max(1, int(expected_inference + 0.5)))
    if stage == "fetch:model":
        received, total = status.get("received", 0), status.get("total", 0)
        if total:
            return "Downloading the model: {} of {} ({}%)".format(
                format_bytes(received), format_bytes(total), int(100 * received / total)
            )
        return "Downloading the model"
    if not stage:
        return ""
    return stage_label(stage) + "…"


def describe_timings(timings):
    """`Done in 4.9 s: inference 3.8 s, post-process 0.4 s, ...` (seconds, rounded)."""
    names = (("decode", "decode"), ("first_look", "first look"), ("preprocess", "pre-process"), ("inference", "inference"),
             ("mirror", "mirror image"), ("postprocess", "post-process"), ("encode", "PNG"))
    parts = ["{} {:.1f} s".format(label, timings[key]) for key, label in names if key in timings]
    total = timings.get("total")
    head = "Done in {:.1f} s".format(total) if total is not None else "Done"
    return head + (": " + ", ".join(parts) if parts else "")


def failure(kind, error, name=""):
    """The page's line for a failed worker call: a model that could not be loaded says
    so and what to do; a photo's problem is prefixed by its file name."""
    if kind == "model":
        return "The model could not be loaded: {}. Try again: choose a photo, or reload the page.".format(
            error.rstrip("."))
    return "{}: {}".format(name, error) if name else error


# The offer under a photo over the size limit (the worker says when it can be downscaled).
DOWNSCALE_BUTTON = "Downscale and continue"


def done_line(*notes):
    """`Done.` and what the user should know about the photo: how the worker read it
    (e.g. `Animated image: the first frame was used.`) and the page's own notes."""
    return " ".join(part for part in ("Done.",) + notes if part)


def default_model_option(label):
    """The Model menu's entry for "no choice" once the worker has chosen: `Default: ISNet, 8-bit (45 MB)`."""
    return "Default: " + label


def describe_backend(info):
    """`ISNet, 16-bit (88 MB) · WebAssembly, 2 threads`, plus why threads are off, and
    why WebGPU is not used when the worker says (`note`); or `… · WebGPU, 32-bit`."""
    label = info.get("label", "")
    if info.get("backend") == "webgpu":
        return "{} · WebGPU, {}-bit".format(label, 16 if info.get("f16") else 32)
    threads = int(info.get("threads") or 1)
    line = "{} · WebAssembly, {} thread{}".format(label, threads, "" if threads == 1 else "s")
    if not info.get("isolated"):
        line += " (single-threaded: this page is not cross-origin isolated)"
    if info.get("note"):
        line += ". Not on WebGPU: {}.".format(str(info.get("note")).rstrip("."))
    return line


def query_value(search, name):
    """The value of `name` in a page address's query (`?model=x&backend=y`), or ''."""
    for part in str(search or "").lstrip("?").split("&"):
        pair = part.split("=", 1)
        if pair[0] == name:
            return pair[1] if len(pair) > 1 else ""
    return ""


def job_line(job):
    """A photo's line in the list: `Waiting`, `Working: Finding the subject…`,
    `Done · 1200×800 · 4.2 s`, `Failed: <why>`, `Cancelled`."""
    if job.state == "working":
        return "Working: {}…".format(stage_label(job.stage)) if job.stage else "Working…"
    if job.state == "done":
        line = "Done · {}×{}".format(job.width, job.height)
        if job.seconds is not None:
            line += " · {:.1f} s".format(job.seconds)
        return line
    if job.state == "failed":
        return "Failed: " + job.error
    return job.state[:1].upper() + job.state[1:]      # Waiting, Cancelled (MicroPython: no capitalize)


def batch_done_line(done, failed):
    """The status once a batch is over: `Done: 9 photos cut out, 1 failed (see the list).`"""
    line = "Done: {} photo{} cut out".format(done, "" if done == 1 else "s")
    if failed:
        line += ", {} failed (see the list)".format(failed)
    return line + "."


# The archive "Download all" saves.
ZIP_NAME = "cutouts.zip"


def packing_line(done, total):
    """`Packing the ZIP: photo 3 of 10…`"""
    return "Packing the ZIP: photo {} of {}…".format(done + 1, total)


def zip_report(problems):
    """report.txt of the ZIP: each photo that is not in it and why ('' if none)."""
    if not problems:
        return ""
    lines = ["These photos are not in this ZIP:", ""]
    lines += ["{}: {}".format(name, why) for name, why in problems]
    return "\n".join(lines) + "\n"


def zip_done_line(saved, missing):
    """`Saved 9 photos in cutouts.zip; 1 could not be made (see report.txt in it).`"""
    line = "Saved {} photo{} in {}".format(saved, "" if saved == 1 else "s", ZIP_NAME)
    if missing:
        line += "; {} could not be made (see report.txt in it)".format(missing)
    return line + "."


# Something was dropped that is not a file (e.g. an image dragged from another site).
NOT_A_FILE = ("That was a link, not a file: Cutout never downloads from other sites. "
              "Save the image to your device, then drop or choose the file.")


def nothing_to_pick(keep):
    """After a Keep part / Drop part click that found nothing to change."""
    if keep:
        return "Nothing to keep there: that part is already in the cutout. Click where something is missing."
    return "Nothing to drop there: that part is already transparent. Click on what should go."


# While the photo on screen is still being cut out, the editor waits for it.
EDIT_WAITS = "Wait for the cutout: edits apply once it is done."


def edits_line(count):
    """After a mask edit: `Done. 3 edits on this photo (Ctrl+Z undoes).`"""
    if not count:
        return "Done. No edits on this photo."
    return "Done. {} edit{} on this photo (Ctrl+Z undoes).".format(count, "" if count == 1 else "s")
