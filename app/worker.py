"""The Pyodide worker's API, exported to the page (`__export__`).

Bytes in, pixels / PNG bytes and stats out. All NumPy, Pillow and inference
work happens here, off the page's UI thread. One `Engine` holds the worker's
state: the loaded model, the newest request (older ones are cancelled at their
next stage) and a progress snapshot the page polls with `status()`.

Every exported call returns a plain JS object (never raises across the
boundary), with `ok` true on success and, on failure,
`{"ok": false, "error": message, "kind": "input" | "cancelled" | "internal"}`. Imports: `app.core`, `app.runtime.ort_web`, `js`, `pyodide.ffi`.
"""
from __future__ import annotations

import asyncio
import json
import time
import traceback

import js
from pyodide.ffi import to_js

from app.core import pipeline
from app.core.errors import Cancelled, InputError
from app.core.options import Options
from app.core.spec import DEFAULT_MODELS, load_specs
from app.runtime.ort_web import WebSession


def _to_js(value):
    return to_js(value, dict_converter=js.Object.fromEntries)


def _typed_array(data: bytes, kind=js.Uint8Array):
    array = kind.new(len(data))
    array.assign(data)
    return array


class Engine:
    """Worker state: one model session, one inference at a time, newest request wins."""

    def __init__(self):
        self.specs = load_specs()
        self.session: WebSession | None = None
        self.loading: dict[str, asyncio.Task] = {}
        self.inference_lock = asyncio.Lock()
        self.latest_request = 0
        # The newest finished cutout (kept until a newer one succeeds: it is what the page shows).
        self.last_cutout: tuple[int, pipeline.Cutout] | None = None
        self.progress = {"phase": "ready", "stage": "", "received": 0, "total": 0, "request": 0}

    # -- model ---------------------------------------------------------------
    async def session_for(self, model: str) -> WebSession:
        """The session for `model` ('' = this back-end's default), downloading it
        once; concurrent callers share the download."""
        model = model or DEFAULT_MODELS["wasm"]
        if model not in self.specs:
            raise InputError(f"Unknown model {model!r}.")
        if self.session is not None and self.session.spec.name == model:
            return self.session
        if model not in self.loading:
            self.loading[model] = asyncio.ensure_future(self._load(model))
        try:
            return await self.loading[model]
        finally:
            self.loading.pop(model, None)

    async def _load(self, model: str) -> WebSession:
        spec = self.specs[model]
        self.progress.update(phase="download", stage="fetch:model", received=0, total=spec.bytes)

        def on_bytes(received, total):
            self.progress.update(received=int(received), total=int(total))

        try:
            session = await WebSession.load(spec, on_bytes)
        finally:
            self.progress.update(phase="ready", stage="")
        if self.session is not None:
            await self.session.release()
        self.session = session
        return session

    # -- cutout --------------------------------------------------------------
    def supersede(self, request_id: int) -> None:
        """Every request older than `request_id` stops at its next stage."""
        self.latest_request = max(self.latest_request, request_id)

    def _stage_reporter(self, request_id: int):
        """on_stage for the pipeline: reports progress, cancels superseded requests."""
        self.supersede(request_id)

        def on_stage(stage: str):
            if request_id < self.latest_request:
                raise Cancelled()
            self.progress.update(phase="work", stage=stage, request=request_id)

        return on_stage

    async def cutout(self, request_id: int, data: bytes, model: str, options: Options):
        on_stage = self._stage_reporter(request_id)
        async with self.inference_lock:
            # Inside the lock: a model switched meanwhile has released the old session.
            session = await self.session_for(model)
            started = time.perf_counter()
            try:
                result = await pipeline.remove_background(data, session, session.spec, options, on_stage)
            finally:
                self.progress.update(phase="ready", stage="")
        result.timings["total"] = time.perf_counter() - started
        self.last_cutout = (request_id, result)
        return session, result

    def restyle(self, request_id: int, options: Options):
        """The last cutout again with other options (no inference); becomes the last cutout."""
        if self.last_cutout is None:
            raise Cancelled()
        on_stage = self._stage_reporter(request_id)
        started = time.perf_counter()
        try:
            result = pipeline.restyle(self.last_cutout[1], options, on_stage)
        finally:
            self.progress.update(phase="ready", stage="")
        result.timings["total"] = time.perf_counter() - started
        self.last_cutout = (request_id, result)
        return self.session, result

    def encode_png(self, request_id: int) -> tuple[bytes, float]:
        """PNG bytes of the last cutout and the seconds the encoding took."""
        if self.last_cutout is None or self.last_cutout[0] != request_id:
            raise Cancelled()
        cutout = self.last_cutout[1]
        self.progress.update(phase="work", stage="encode", request=request_id)
        try:
            return pipeline.encode(cutout), cutout.timings["encode"]
        finally:
            self.progress.update(phase="ready", stage="")


ENGINE = Engine()


def _failure(exc: BaseException):
    if isinstance(exc, Cancelled):
        return _to_js({"ok": False, "error": "cancelled", "kind": "cancelled"})
    if isinstance(exc, InputError):
        return _to_js({"ok": False, "error": str(exc), "kind": "input"})
    traceback.print_exception(exc)
    return _to_js({"ok": False, "error": f"{type(exc).__name__}: {exc}", "kind": "internal"})


async def prepare(model: str = ""):
    """Download and open `model` ('' = default) now, so the first photo does not wait."""
    try:
        session = await ENGINE.session_for(model)
    except Exception as exc:
        return _failure(exc)
    return _to_js({"ok": True, "defaults": json.dumps(Options().to_dict()), **_session_info(session)})


def _options(options_json) -> Options:
    """Options from the page's JSON (a bad value is an InputError the page shows)."""
    try:
        return Options.from_dict(json.loads(str(options_json or "{}")))
    except (ValueError, TypeError) as exc:
        raise InputError(f"Invalid edge settings: {exc}") from None


async def cutout(request_id, data, model: str = "", options_json: str = ""):
    """Cut out the photo in `data` (ArrayBuffer or Uint8Array) with the edge
    settings in `options_json` (`Options` fields; '' = defaults).

    Returns `{ok, request, width, height, rgba: Uint8ClampedArray, timings, ...}`.
    """
    try:
        options = _options(options_json)
        session, result = await ENGINE.cutout(int(request_id), data.to_bytes(), str(model), options)
    except Exception as exc:
        return _failure(exc)
    return _result(request_id, session, result)


def restyle(request_id, options_json: str = ""):
    """The last cutout post-processed again with other edge settings (no inference);
    same reply as `cutout`."""
    try:
        session, result = ENGINE.restyle(int(request_id), _options(options_json))
    except Exception as exc:
        return _failure(exc)
    return _result(request_id, session, result)


def _result(request_id, session, result):
    started = time.perf_counter()
    pixels = _typed_array(result.image.tobytes(), js.Uint8ClampedArray)
    result.timings["transfer"] = time.perf_counter() - started
    return _to_js(
        {
            "request": int(request_id),
            "width": result.image.width,
            "height": result.image.height,
            "ok": True,
            "rgba": pixels,
            "timings": {k: round(v, 4) for k, v in result.timings.items()},
            **_session_info(session),
        }
    )


def encode_png(request_id):
    """PNG bytes (Uint8Array) of the last cutout, if `request_id` is still the newest."""
    try:
        png, seconds = ENGINE.encode_png(int(request_id))
    except Exception as exc:
        return _failure(exc)
    return _to_js(
        {"ok": True, "request": int(request_id), "png": _typed_array(png), "seconds": round(seconds, 4)}
    )


def cancel(request_id):
    """Drop every request older than `request_id` at its next stage (a running
    inference finishes first: ONNX Runtime cannot stop mid-run)."""
    ENGINE.supersede(int(request_id))
    return _to_js({"ok": True})


def status():
    """A JSON snapshot of what the worker is doing (polled by the page)."""
    return json.dumps(ENGINE.progress)


def _session_info(session: WebSession) -> dict:
    return {
        "model": session.spec.name,
        "label": session.spec.label,
        "backend": session.backend,
        "threads": session.threads,
        "isolated": session.isolated,
        "ort": session.ort_version,
    }


__export__ = ["prepare", "cutout", "restyle", "encode_png", "cancel", "status"]
