"""The Pyodide worker's API, exported to the page (`__export__`).

Bytes in, pixels / PNG bytes and stats out. All NumPy, Pillow and inference
work happens here, off the page's UI thread. Each photo is a job the page numbers.
The worker's state (the loaded model, cancelled jobs, finished cutouts by job,
progress) is an
`app.engine.Engine` given ONNX Runtime Web's session loader; this module only
converts between JS and Python. Progress is pushed to the page on a
BroadcastChannel it names (`report_to`): a worker busy with NumPy cannot answer
a poll, so the page would otherwise never see the stage it is in. A cutout's
pixels (its first look, then its full-resolution result) go to the page over a
MessagePort of their own, which the page posts to this worker once (`has_pixel_port`):
they are moved there, not copied (the exported calls' replies are copied), and a
result's reply names its pixels by number.

Every exported call returns a plain JS object (never raises across the
boundary), with `ok` true on success and, on failure,
`{"ok": false, "error": message, "kind": "input" | "model" | "cancelled" | "internal"}`;
an "input" failure also says whether the photo is too large but can be downscaled
with the user's consent (`downscale`: then send it again with `downscale` true).
Imports: `app.core`, `app.engine`, `app.runtime.ort_web`, `js`, `pyodide.ffi`, `polyscript`.
"""
from __future__ import annotations

import hashlib
import json
import time
import traceback

import js
import numpy as np
from polyscript import xworker
from pyodide.ffi import create_proxy, to_js

from app.core import edits as mask_edits, export as formats
from app.core.archive import ZipStream
from app.core.compose import MAX_MARGIN, MIN_MARGIN, SQUARE_SIZES, Layout, read_background
from app.core.compose import common_scale as compose_common_scale
from app.core.errors import Cancelled, InputError, ModelError, TooLargeError
from app.core.options import Options
from app.core.backends import PREFERENCES
from app.core.spec import DEFAULT_MODELS, load_specs
from app.engine import Engine
from app.runtime.ort_web import WebSession, use_inference_worker


def _to_js(value):
    return to_js(value, dict_converter=js.Object.fromEntries)


def _typed_array(data, kind=js.Uint8Array):
    """A new typed array of `kind` holding `data` (bytes, or a 1-D uint8 NumPy array: its
    own buffer is copied, no bytes object is made first)."""
    array = kind.new(len(data))
    array.assign(data)
    return array


# The overlays' colours: where the model was unsure, and where the last edit changed the cutout.
UNSURE_COLOUR = (230, 40, 0)
CHANGE_COLOUR = (0, 190, 255)

# Bytes of an image copied to JavaScript at a time (`_pixels`).
PIXEL_STRIP = 1 << 22


def _pixels(image):
    """A new Uint8ClampedArray of `image`'s pixels, filled a strip of rows at a time: a
    full-resolution cutout never has a second full-size copy in Python's memory, whose
    high-water mark the tab keeps."""
    row = image.width * len(image.getbands())
    array = js.Uint8ClampedArray.new(row * image.height)
    rows = max(1, PIXEL_STRIP // row)
    for top in range(0, image.height, rows):
        bottom = min(image.height, top + rows)
        array.subarray(top * row, bottom * row).assign(image.crop((0, top, image.width, bottom)).tobytes())
    return array


# Where the page wants inference to run (app.core.backends.PREFERENCES), and why WebGPU
# failed on this device before ('' if it never did): set by `prepare`.
BACKEND = {"preference": "auto", "failed_before": ""}


def _load_session(spec, on_bytes, on_stage):
    return WebSession.load(spec, on_bytes, on_stage, BACKEND["preference"], BACKEND["failed_before"])


ENGINE = Engine(load_specs(), _load_session, DEFAULT_MODELS["wasm"])
_DEFAULTS: dict[tuple[str, str], str] = {}    # the default model, by BACKEND's values


async def _choose_default_model() -> None:
    """Point the engine's default ('' from the page) at the model for this device and back-end
    choice: the 16-bit one where it will run on WebGPU, else the 8-bit one. (If the card then
    fails its check, that visit runs the 16-bit model on WebAssembly; the page remembers the
    failure, so from the next visit the default is the 8-bit one.)"""
    key = (BACKEND["preference"], BACKEND["failed_before"])
    if key not in _DEFAULTS:
        _DEFAULTS[key] = await WebSession.default_model(ENGINE.specs, *key)
    ENGINE.default_model = _DEFAULTS[key]


def _failure(exc: BaseException):
    if isinstance(exc, Cancelled):
        return _to_js({"ok": False, "error": "cancelled", "kind": "cancelled"})
    if isinstance(exc, InputError):
        downscale = isinstance(exc, TooLargeError) and exc.downscalable
        return _to_js({"ok": False, "error": str(exc), "kind": "input", "downscale": downscale})
    if isinstance(exc, ModelError):
        return _to_js({"ok": False, "error": str(exc), "kind": "model"})
    traceback.print_exception(exc)
    return _to_js({"ok": False, "error": f"{type(exc).__name__}: {exc}", "kind": "internal"})


async def prepare(model: str = "", backend: str = "auto", failed_before: str = "", inference_worker: str = ""):
    """Download and open `model` ('' = default) on `backend` ("auto", "webgpu" or "wasm";
    `failed_before`: why WebGPU failed on this device before, as the page remembers it)
    now, so the first photo does not wait, in the inference worker the page started
    (`inference_worker`, its name; it may have opened the model already). A different
    backend choice opens the model anew."""
    try:
        use_inference_worker(str(inference_worker or ""))
        wanted = {"preference": str(backend or "auto"), "failed_before": str(failed_before or "")}
        if wanted["preference"] not in PREFERENCES:
            raise InputError(f"Unknown back-end {wanted['preference']!r}.")
        if wanted != BACKEND:
            BACKEND.update(wanted)
            await ENGINE.forget_session()
        await _choose_default_model()
        session = await ENGINE.session_for(model)
    except Exception as exc:
        return _failure(exc)
    return _to_js({"ok": True, "defaults": json.dumps(Options().to_dict()), "choices": _CHOICES,
                   **_session_info(session)})


# What the page's export controls offer, from the core (the one place these facts live).
_CHOICES = json.dumps({
    "formats": [[key, spec.label, spec.short] for key, spec in formats.FORMATS.items()],
    "squares": list(SQUARE_SIZES),
    "margin": [MIN_MARGIN, MAX_MARGIN],
    "layout": Layout().to_dict(),
})


def _options(options_json) -> Options:
    """Options from the page's JSON (a bad value is an InputError the page shows)."""
    try:
        return Options.from_dict(json.loads(str(options_json or "{}")))
    except (ValueError, TypeError) as exc:
        raise InputError(f"Invalid edge settings: {exc}") from None


async def warm_up(model: str = ""):
    """Run every stage once on a small made-up photo (`Engine.warm_up`), which the page asks
    for while it waits for the user: the first photo then costs what the next ones do.
    A photo asked for meanwhile stops it. Returns `{ok, warmed}`."""
    try:
        warmed = await ENGINE.warm_up(str(model))
    except Exception as exc:
        return _failure(exc)
    return _to_js({"ok": True, "warmed": warmed})


async def cutout(job, data, model: str = "", options_json: str = "", downscale=False, first_look=False):
    """Cut out the photo in `data` (ArrayBuffer or Uint8Array) with the edge
    settings in `options_json` (`Options` fields; '' = defaults); `downscale`: the
    user agreed that a photo over the size limit is downscaled to fit; `first_look`: send
    a rough cutout first, when the model can make one (`_send_first_look`).

    Returns `{ok, job, width, height, pixels, timings, photo_note, ...}`, `pixels`
    the number of its RGBA pixels (a Uint8ClampedArray) on the pixel port; `photo_note` says how the file was read when not quite as it
    is (first frame of an animation, downscaled), else ''.
    """
    try:
        options = _options(options_json)
        await _choose_default_model()
        session, result = await ENGINE.cutout(int(job), data.to_bytes(), str(model), options,
                                              bool(downscale), bool(first_look))
    except Exception as exc:
        return _failure(exc)
    return _result(job, session, result)


def restyle(job, options_json: str = "", edits_json: str = ""):
    """`job`'s cutout post-processed again with other edge settings (no inference), its
    mask edits applied again; same reply as `cutout`."""
    try:
        edits = _edits(edits_json)
        session, _ = ENGINE.restyle(int(job), _options(options_json))
        result = ENGINE.edited(int(job), edits)
    except Exception as exc:
        return _failure(exc)
    return _result(job, session, result)


def edit(job, edits_json: str = ""):
    """`job`'s cutout with the user's mask edits (strokes, picks: `app.core.edits`), the
    whole list each time (undo is a shorter list); same reply as `cutout`, and `changed`:
    whether the last edit changed any pixel, `change`: where (a small mask), if it did."""
    try:
        started = time.perf_counter()
        result = ENGINE.edited(int(job), _edits(edits_json))
        seconds = time.perf_counter() - started
    except Exception as exc:
        return _failure(exc)
    reply = _result(job, ENGINE.session, result)
    reply.timings = _to_js({"edit": round(seconds, 4)})
    reply.changed = ENGINE.last_edit_changed(int(job))
    change = ENGINE.last_edit_change(int(job))   # where, for the page to show a moment
    reply.change = None if change is None else _overlay(change, CHANGE_COLOUR)
    return reply


def _overlay(level, colour) -> object:
    """{width, height, rgba}: `colour` (R, G, B) with `level` (H, W) uint8 as its alpha,
    for the page to lay over the cutout."""
    height, width = level.shape
    overlay = np.zeros((height, width, 4), np.uint8)
    overlay[..., :3] = colour
    overlay[..., 3] = level
    return _to_js({"ok": True, "width": width, "height": height,
                   "rgba": _typed_array(overlay.reshape(-1), js.Uint8ClampedArray)})


def unsure(job, longest: int = 2048):
    """Where the model was unsure about `job` (`edits.uncertainty`), as a red overlay
    (RGBA pixels, long side at most `longest`) for the page to lay over the cutout."""
    try:
        cutout = ENGINE.result(int(job))
        width, height = cutout.image.size
        scale = min(1.0, int(longest) / max(width, height))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        level = mask_edits.uncertainty(cutout.mask, size)
    except Exception as exc:
        return _failure(exc)
    return _overlay(level, UNSURE_COLOUR)


def _edits(edits_json) -> list:
    try:
        return mask_edits.edits_from_json(json.loads(str(edits_json or "[]")))
    except (ValueError, TypeError) as exc:
        raise InputError(f"Invalid edit: {exc}") from None


def show(job, data, options_json="", downscale=False, edits_json=""):
    """`job`'s cutout to draw again (the user chose it in the list): the kept one, or
    made again from the photo's bytes `data` and its kept mask, with its mask edits;
    same reply as `cutout`."""
    try:
        ENGINE.remake(int(job), data.to_bytes(), _options(options_json), bool(downscale))
        result = ENGINE.edited(int(job), _edits(edits_json))
    except Exception as exc:
        return _failure(exc)
    return _result(job, ENGINE.session, result)


# The page's MessagePort for a cutout's pixels, and how many results were sent over it.
PIXEL_PORT = {"port": None, "sent": 0}


def _on_message(event):
    """A message the page posted to this worker itself (not an exported call): the one
    it sends carries its pixel port, over which first looks go from then on."""
    if event.ports.length:
        PIXEL_PORT["port"] = event.ports[0]
        ENGINE.on_first_look = _send_first_look


xworker.onmessage = create_proxy(_on_message)


def has_pixel_port():
    """Whether the page's pixel port has arrived (the page waits for it before any photo)."""
    return PIXEL_PORT["port"] is not None


def _post_pixels(fields: dict, pixels) -> None:
    """`fields` with `rgba` = `pixels`, a typed array, to the page over its pixel port
    (transferred: the array is empty here afterwards, no copy is made or left behind)."""
    transfer = js.Array.new()
    transfer.push(pixels.buffer)
    PIXEL_PORT["port"].postMessage(_to_js({**fields, "rgba": pixels}), transfer)


def _send_first_look(job, image):
    """A job's first look (`{job, width, height, rgba}`, and `pixels` 0: no result's), while
    its full cutout is made."""
    _post_pixels({"pixels": 0, "job": int(job), "width": image.width, "height": image.height}, _pixels(image))


def _send_pixels(pixels) -> int:
    """A result's pixels to the page; returns the number its reply names them by."""
    PIXEL_PORT["sent"] += 1
    _post_pixels({"pixels": PIXEL_PORT["sent"]}, pixels)
    return PIXEL_PORT["sent"]


def _result(job, session, result):
    started = time.perf_counter()
    pixels = _send_pixels(_pixels(result.image))
    result.timings["transfer"] = time.perf_counter() - started
    return _to_js(
        {
            "job": int(job),
            "width": result.image.width,
            "height": result.image.height,
            "ok": True,
            "pixels": pixels,
            "timings": {k: round(v, 4) for k, v in result.timings.items()},
            "photo_note": " ".join(result.notes),
            **_session_info(session),
        }
    )


def _layout(layout_json) -> Layout:
    try:
        return Layout.from_dict(json.loads(str(layout_json or "{}")))
    except (ValueError, TypeError) as exc:
        raise InputError(f"Invalid layout: {exc}") from None


# The archive "Download all" is writing, between `zip_start` and `zip_finish`.
ARCHIVE: dict[str, ZipStream] = {}


def export(job, name, data, options_json="", layout_json="", fmt="png", keep_colour_profile=True,
           downscale=False, into_zip=False, edits_json="", background=None, scale=None):
    """`job`'s download: its cutout (kept, or made again from the photo's bytes `data`
    and its kept mask, with `options_json`) laid out as `layout_json` (`Layout` fields;
    `background`: the bytes of the user's picture for the "image" background) and encoded
    as `fmt` (`export.FORMATS`); `scale`: a square's subject drawn at this scale
    (`common_scale`). Returns `{ok, job, filename, mime, seconds,
    data}`: `data` is the file, or with `into_zip` the archive's next bytes (the file
    went into the ZIP `zip_start` opened)."""
    try:
        if fmt not in formats.FORMATS:
            raise InputError(f"Unknown format {fmt!r}.")
        layout = _layout(layout_json)
        source = data.to_bytes() if data is not None and hasattr(data, "to_bytes") else b""
        ENGINE.remake(int(job), source, _options(options_json), bool(downscale))
        picture = _background_picture(background) if layout.background == "image" else None
        file, seconds = ENGINE.export(int(job), layout, str(fmt), bool(keep_colour_profile), _edits(edits_json),
                                      picture, float(scale) if scale else None)
        filename = formats.filename(str(name), str(fmt))
        if into_zip:
            file = ARCHIVE["zip"].add(filename, file)
    except Exception as exc:
        return _failure(exc)
    return _to_js({"ok": True, "job": int(job), "filename": filename, "mime": formats.FORMATS[str(fmt)].mime,
                   "seconds": round(seconds, 4), "data": _typed_array(file)})


# The user's background picture, decoded once for every export that uses it.
_PICTURE: dict[str, object] = {}


def _background_picture(data):
    """The user's background picture, upright (a picture over the size limit is downscaled:
    it is only a background); an InputError the page shows if it cannot be read."""
    if data is None or not hasattr(data, "to_bytes"):
        raise InputError("Choose a picture for the background first.")
    raw = data.to_bytes()
    key = hashlib.sha256(raw).hexdigest()
    if _PICTURE.get("key") != key:
        _PICTURE.update(key=key, image=read_background(raw))
    return _PICTURE["image"]


def common_scale(jobs_json, layout_json=""):
    """One scale for the square renders of the photos `jobs_json` ([[job, width, height],
    ...]): the largest subject just fits, every subject at the same pixel scale."""
    try:
        layout = _layout(layout_json)
        boxes = [ENGINE.subject_box(int(job), (int(width), int(height)))
                 for job, width, height in json.loads(str(jobs_json))]
        return _to_js({"ok": True, "scale": compose_common_scale(boxes, layout)})
    except Exception as exc:
        return _failure(exc)


def zip_start():
    """Open the archive of "Download all" (a newer one replaces an unfinished one)."""
    ARCHIVE["zip"] = ZipStream()
    return _to_js({"ok": True})


def zip_finish(report=""):
    """Add `report` (a text of what failed, if anything) and close the archive; returns
    its last bytes."""
    try:
        archive = ARCHIVE.pop("zip")
        head = archive.add("report.txt", str(report).encode()) if report else b""
        return _to_js({"ok": True, "data": _typed_array(head + archive.close())})
    except Exception as exc:
        return _failure(exc)


def cancel(job):
    """`job` stops at its next stage (a running inference finishes first: ONNX Runtime
    cannot stop mid-run) and its cutout is dropped."""
    ENGINE.cancel(int(job))
    return _to_js({"ok": True})


def forget(job):
    """The page no longer needs `job`'s full-resolution cutout: its memory is freed."""
    ENGINE.forget(int(job))
    return _to_js({"ok": True})


def report_to(channel_name):
    """Push every progress snapshot (JSON) to the BroadcastChannel `channel_name`
    (unique to the page, so two open tabs never see each other's progress)."""
    channel = js.BroadcastChannel.new(str(channel_name))
    ENGINE.on_progress = lambda snapshot: channel.postMessage(json.dumps(snapshot))
    return _to_js({"ok": True})


def _session_info(session: WebSession) -> dict:
    return {
        "model": session.spec.name,
        "label": session.spec.label,
        "backend": session.backend,
        "f16": session.f16,
        "note": session.note,
        "webgpu_failed": session.webgpu_failed,
        "threads": session.threads,
        "isolated": session.isolated,
        "ort": session.ort_version,
    }


__export__ = ["report_to", "has_pixel_port", "prepare", "warm_up", "cutout", "restyle", "edit", "unsure", "show", "export", "common_scale", "zip_start", "zip_finish",
              "cancel", "forget"]
