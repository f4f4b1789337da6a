"""The worker's state: which model session is open, which request is the newest,
which cutout the page shows, and what the worker is doing now (progress).

It runs anywhere asyncio runs: the Pyodide worker (`app/worker.py`) gives it
ONNX Runtime Web's session loader, the unit tests give it a fake one, so its
concurrency logic is tested under CPython without a browser.
Imports: `app.core` only (never `js` / `pyodide`).

    >>> engine = Engine(load_specs(), WebSession.load, DEFAULT_MODELS["wasm"])
    >>> session, result = await engine.cutout(1, photo_bytes, "", Options())
    >>> png, seconds = engine.encode_png(1)

Requests are numbered by the page, newest highest. A newer request supersedes
every older one: an older photo stops at its next stage, and a finished result
of one is dropped. A finished result becomes the cutout *on screen* only when
the page asks for its PNG (`encode_png`), which it does as it draws it: a result
that a cancel overtook is never drawn, so it is never what an edge-setting change
(`restyle`) redoes.

A session is anything with `spec` (`ModelSpec`), `release()` (awaitable) and
`await session(tensor)`; `load_session(spec, on_bytes, on_stage)` opens one, calling
`on_bytes(received, total)` while the model downloads and `on_stage(name)` for its
other steps (e.g. "check:webgpu").
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from app.core import pipeline
from app.core.errors import Cancelled, InputError
from app.core.options import Options
from app.core.spec import ModelSpec

LoadSession = Callable[[ModelSpec, Callable[[int, int], None]], Awaitable[object]]


class Engine:
    """Worker state: one model session, one inference at a time, newest request wins."""

    def __init__(self, specs: dict[str, ModelSpec], load_session: LoadSession, default_model: str,
                 on_progress: Callable[[dict], None] | None = None):
        if default_model not in specs:
            raise ValueError(f"default model {default_model!r} is not among {sorted(specs)}")
        self.specs = specs
        self.load_session = load_session
        self.default_model = default_model
        self.on_progress = on_progress      # called with a copy of `progress` at each change
        self.session = None
        self.loading: dict[str, asyncio.Future] = {}
        self.inference_lock = asyncio.Lock()
        self.latest_request = 0
        # (request, cutout): the newest result not drawn yet, and the one the page shows.
        self.finished: tuple[int, pipeline.Cutout] | None = None
        self.on_screen: tuple[int, pipeline.Cutout] | None = None
        self.progress = {"phase": "ready", "stage": "", "received": 0, "total": 0, "request": 0}

    def _report(self, **changes) -> None:
        """Update the progress snapshot and push it (a busy worker cannot be polled)."""
        self.progress.update(changes)
        if self.on_progress is not None:
            self.on_progress(dict(self.progress))

    # -- model ---------------------------------------------------------------
    async def session_for(self, model: str):
        """The session for `model` ('' = the default), downloading it once;
        concurrent callers share the download."""
        model = model or self.default_model
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

    async def forget_session(self) -> None:
        """Release the open session once no inference runs on it: the next request opens
        its model anew (the back-end choice changed)."""
        async with self.inference_lock:
            if self.session is not None:
                session, self.session = self.session, None
                await session.release()

    async def _load(self, model: str):
        spec = self.specs[model]
        # Until the loader says otherwise: the file may be on this device already (kept
        # from an earlier visit, or downloaded by the page while Python started).
        self._report(phase="download", stage="find:model", received=0, total=0)

        def on_bytes(received, total):
            # All bytes in: the file is checked and the session opened, which takes a while.
            stage = "open:model" if received >= total else "fetch:model"
            self._report(stage=stage, received=int(received), total=int(total))

        def on_stage(stage):
            # A loader step before or after the download (e.g. "check:webgpu").
            self._report(stage=stage)

        try:
            session = await self.load_session(spec, on_bytes, on_stage)
        finally:
            self._report(phase="ready", stage="")
        if self.session is not None:
            await self.session.release()
        self.session = session
        return session

    # -- cutout --------------------------------------------------------------
    def supersede(self, request_id: int) -> None:
        """Every request older than `request_id` stops at its next stage, and the
        result of one that the page has not drawn is dropped."""
        self.latest_request = max(self.latest_request, request_id)
        if self.finished is not None and self.finished[0] < self.latest_request:
            self.finished = None

    def _check(self, request_id: int) -> None:
        if request_id < self.latest_request:
            raise Cancelled()

    def _stage_reporter(self, request_id: int):
        """on_stage for the pipeline: reports progress, cancels superseded requests."""
        self.supersede(request_id)

        def on_stage(stage: str):
            self._check(request_id)
            self._report(phase="work", stage=stage, request=request_id)

        return on_stage

    def _keep_for_page(self, request_id: int, result: pipeline.Cutout, started: float) -> pipeline.Cutout:
        """Keep `result` for the page to draw, unless a newer request came meanwhile."""
        self._check(request_id)
        result.timings["total"] = time.perf_counter() - started
        self.finished = (request_id, result)
        return result

    async def cutout(self, request_id: int, data: bytes, model: str, options: Options, downscale: bool = False):
        """(session, cutout) of the photo in `data`; Cancelled if a newer request came first.
        `downscale`: the user agreed that a photo over the size limit is downscaled to fit."""
        on_stage = self._stage_reporter(request_id)
        async with self.inference_lock:
            self._check(request_id)
            # Inside the lock: a model switched meanwhile has released the old session.
            session = await self.session_for(model)
            started = time.perf_counter()
            try:
                result = await pipeline.remove_background(data, session, session.spec, options, on_stage,
                                                          downscale)
            finally:
                self._report(phase="ready", stage="")
            return session, self._keep_for_page(request_id, result, started)

    def restyle(self, request_id: int, options: Options):
        """(session, cutout): the cutout on screen again with other options (no inference)."""
        if self.on_screen is None:
            raise Cancelled()
        on_stage = self._stage_reporter(request_id)
        started = time.perf_counter()
        try:
            result = pipeline.restyle(self.on_screen[1], options, on_stage)
        finally:
            self._report(phase="ready", stage="")
        return self.session, self._keep_for_page(request_id, result, started)

    def encode_png(self, request_id: int, keep_colour_profile: bool = True) -> tuple[bytes, float]:
        """The page draws `request_id`'s result: it becomes the cutout on screen (what
        `restyle` redoes). Returns its PNG bytes (`pipeline.encode`) and the seconds the
        encoding took."""
        if self.finished is not None and self.finished[0] == request_id:
            self.on_screen, self.finished = self.finished, None
        if self.on_screen is None or self.on_screen[0] != request_id:
            raise Cancelled()
        cutout = self.on_screen[1]
        self._report(phase="work", stage="encode", request=request_id)
        try:
            return pipeline.encode(cutout, keep_colour_profile=keep_colour_profile), cutout.timings["encode"]
        finally:
            self._report(phase="ready", stage="")
