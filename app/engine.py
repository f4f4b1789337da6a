"""The worker's state: which model session is open, which photos (jobs) are being cut
out or were cancelled, their finished cutouts, and what the worker is doing now (progress).

It runs anywhere asyncio runs: the Pyodide worker (`app/worker.py`) gives it
ONNX Runtime Web's session loader, the unit tests give it a fake one, so its
concurrency logic is tested under CPython without a browser.
Imports: `app.core` only (never `js` / `pyodide`).

    >>> engine = Engine(load_specs(), WebSession.load, DEFAULT_MODELS["wasm"])
    >>> session, result = await engine.cutout(1, photo_bytes, "", Options())
    >>> png, seconds = engine.export(1, Layout(), "png")

Every photo is a job with a number the page gives it. Jobs run one inference at a
time, in the order they came. A cancelled job stops at its next stage and its result,
if it had finished, is dropped: it can no longer be restyled or encoded. Finished
cutouts are kept by job at full resolution until the page forgets them (`forget`),
and never more than `KEEP_RESULTS` of them, so memory stays bounded however many
photos are queued.

A session is anything with `spec` (`ModelSpec`), `release()` (awaitable) and
`await session(tensor)`; `load_session(spec, on_bytes, on_stage)` opens one, calling
`on_bytes(received, total)` while the model downloads and `on_stage(name)` for its
other steps (e.g. "check:webgpu").
"""
from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable

from app.core import compose, edits as mask_edits, pipeline, postprocess
from app.core.errors import Cancelled, InputError
from app.core.options import Options
from app.core.spec import ModelSpec

LoadSession = Callable[[ModelSpec, Callable[[int, int], None]], Awaitable[object]]

# Full-resolution cutouts kept at once: the photo on screen and one more (the one just
# finished, or one being exported). A 48 MP cutout with its photo and working data is
# about half a gigabyte, and a WebAssembly worker has 4 GB in all.
KEEP_RESULTS = 2


class Engine:
    """Worker state: one model session, one inference at a time, finished cutouts by job."""

    def __init__(self, specs: dict[str, ModelSpec], load_session: LoadSession, default_model: str,
                 on_progress: Callable[[dict], None] | None = None):
        if default_model not in specs:
            raise ValueError(f"default model {default_model!r} is not among {sorted(specs)}")
        self.specs = specs
        self.load_session = load_session
        self.default_model = default_model
        self.on_progress = on_progress      # called with a copy of `progress` at each change
        # Called with (job, rough RGBA cutout) when a job that asked for a first look has one.
        self.on_first_look: Callable[[int, object], None] | None = None
        self.session = None
        self.loading: dict[str, asyncio.Future] = {}
        self.inference_lock = asyncio.Lock()
        self.cancelled: set[int] = set()
        self.results: dict[int, pipeline.Cutout] = {}     # by job, oldest first
        # Every finished job's model mask (`pipeline.pack_mask`, a few hundred kB): its
        # cutout can be made again without inference once its full-resolution one is freed.
        self.masks: dict[int, bytes] = {}
        self.made_with: dict[int, Options] = {}           # the edge settings of each kept cutout
        # The user's mask edits replayed onto a kept cutout: job -> (that cutout, Replay,
        # the last edits and the edited cutout), so one more stroke or an undo costs one edit.
        self.replays: dict[int, tuple] = {}
        self.progress = {"phase": "ready", "stage": "", "received": 0, "total": 0, "job": 0}
        self.warming = False        # a warm-up is wanted or running (`warm_up`)

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

    async def warm_up(self, model: str = "") -> bool:
        """Run `pipeline.warm_up` on `model`'s session while the worker is idle, so the
        first photo goes as fast as the next ones. It gives way to any photo: a cutout
        asked for meanwhile stops it at its next stage (then False); it reports no progress
        and keeps nothing."""
        self.warming = True
        try:
            async with self.inference_lock:
                if not self.warming:
                    return False
                session = await self.session_for(model)

                def on_stage(stage: str) -> None:
                    if not self.warming:
                        raise Cancelled()

                await pipeline.warm_up(session, session.spec, on_stage)
                return True
        except Cancelled:
            return False
        finally:
            self.warming = False

    # -- cutout --------------------------------------------------------------
    def cancel(self, job: int) -> None:
        """`job` stops at its next stage (a running inference finishes first: ONNX Runtime
        cannot stop mid-run), and its finished cutout, if any, is dropped."""
        self.cancelled.add(job)
        self.forget(job)
        self.masks.pop(job, None)

    def forget(self, job: int) -> None:
        """The page no longer needs `job`'s full-resolution cutout: free it (its mask stays,
        for `remake`)."""
        self.results.pop(job, None)
        self.made_with.pop(job, None)
        self.replays.pop(job, None)

    def result(self, job: int) -> pipeline.Cutout:
        """`job`'s kept cutout; Cancelled if it was cancelled, forgotten or never made."""
        if job not in self.results:
            raise Cancelled()
        return self.results[job]

    def _check(self, job: int) -> None:
        if job in self.cancelled:
            raise Cancelled()

    def _stage_reporter(self, job: int):
        """on_stage for the pipeline: reports progress, stops cancelled jobs."""

        def on_stage(stage: str):
            self._check(job)
            self._report(phase="work", stage=stage, job=job)

        return on_stage

    def _keep(self, job: int, result: pipeline.Cutout, started: float, options: Options) -> pipeline.Cutout:
        """Keep `result` as `job`'s cutout (unless the job was cancelled meanwhile), the
        oldest kept one making way beyond KEEP_RESULTS."""
        self._check(job)
        result.timings["total"] = time.perf_counter() - started
        self.results.pop(job, None)
        self.results[job] = result
        self.made_with[job] = options
        self.masks[job] = pipeline.pack_mask(result.mask)
        while len(self.results) > KEEP_RESULTS:
            self.forget(next(iter(self.results)))
        return result

    async def cutout(self, job: int, data: bytes, model: str, options: Options, downscale: bool = False,
                     first_look: bool = False):
        """(session, cutout) of the photo in `data`; Cancelled if the job was cancelled first.
        `downscale`: the user agreed that a photo over the size limit is downscaled to fit;
        `first_look`: `on_first_look` gets a rough cutout first (`pipeline.first_look`), when
        the model can make one."""
        self.warming = False                # a warm-up gives way at its next stage
        on_stage = self._stage_reporter(job)
        on_first_look = None
        if first_look and self.on_first_look is not None:
            def on_first_look(image):
                self._check(job)
                self.on_first_look(job, image)
        async with self.inference_lock:
            self._check(job)
            # Inside the lock: a model switched meanwhile has released the old session.
            session = await self.session_for(model)
            started = time.perf_counter()
            try:
                result = await pipeline.remove_background(data, session, session.spec, options, on_stage,
                                                          downscale, on_first_look)
            finally:
                self._report(phase="ready", stage="")
            return session, self._keep(job, result, started, options)

    def restyle(self, job: int, options: Options):
        """(session, cutout): `job`'s cutout again with other options (no inference)."""
        kept = self.result(job)
        on_stage = self._stage_reporter(job)
        started = time.perf_counter()
        try:
            result = pipeline.restyle(kept, options, on_stage)
        finally:
            self._report(phase="ready", stage="")
        return self.session, self._keep(job, result, started, options)

    def remake(self, job: int, data: bytes, options: Options, downscale: bool = False) -> pipeline.Cutout:
        """`job`'s cutout with `options`: the kept one, restyled if it was made with other
        options, or made again from the photo's bytes and its kept model mask (no
        inference); Cancelled if the job has neither."""
        if job in self.results:
            if self.made_with.get(job) == options:
                return self.results[job]
            return self.restyle(job, options)[1]
        if job not in self.masks:
            raise Cancelled()
        on_stage = self._stage_reporter(job)
        started = time.perf_counter()
        try:
            result = pipeline.remake(data, pipeline.unpack_mask(self.masks[job]), options, on_stage, downscale)
        finally:
            self._report(phase="ready", stage="")
        return self._keep(job, result, started, options)

    def last_edit_changed(self, job: int) -> bool:
        """Whether the last of `job`'s mask edits replayed changed any pixel (a Keep part
        click on what is already kept changes nothing)."""
        replay = self.replays.get(job, (None, None, None, None))[1]
        return replay is None or replay.last_changed()

    def last_edit_change(self, job: int):
        """Where the last of `job`'s mask edits changed the cutout (`Replay.last_change`),
        or None."""
        replay = self.replays.get(job, (None, None, None, None))[1]
        return None if replay is None else replay.last_change()

    def edited(self, job: int, edits: list) -> pipeline.Cutout:
        """`job`'s kept cutout with the user's mask `edits` (`app.core.edits`) applied, at
        full resolution; the kept cutout itself when there are none. The edited image is
        kept and, from the kept cutout to the first edit list and from one list to the
        next, remade only in the box the replay changed (the edits are per pixel): a
        click on a 12 MP photo remakes the part it changed, not the photo."""
        cutout = self.result(job)
        if not edits:
            return cutout
        base, replay, last, made = self.replays.get(job, (None, None, None, None))
        if base is not cutout:
            replay = mask_edits.Replay(cutout.alpha, cutout.photo, cutout.mask)
            last = made = None
        if edits != last:
            alpha = replay.alpha_for(edits)
            changed = replay.take_changed()
            if made is None:        # the kept cutout is the edited one of no edits
                made = dataclasses.replace(cutout, image=cutout.image.copy())
            if changed is not None:
                made.image.paste(mask_edits.edited_cutout(cutout.image, cutout.photo, alpha, changed), changed[:2])
            self.replays[job] = (cutout, replay, list(edits), made)
        return made

    def export(self, job: int, layout: compose.Layout, fmt: str, keep_colour_profile: bool = True,
               edits: list | None = None, background_image=None, scale: float | None = None):
        """`job`'s download (`pipeline.export`; `background_image` for the "image"
        background), its mask edits applied, and the seconds it took."""
        cutout = self.edited(job, edits or [])
        self._report(phase="work", stage="encode", job=job)
        try:
            data = pipeline.export(cutout, layout, fmt, keep_colour_profile, background_image=background_image,
                                   scale=scale)
            return data, cutout.timings["encode"]
        finally:
            self._report(phase="ready", stage="")

    def subject_box(self, job: int, size: tuple[int, int]):
        """Where `job`'s subject is in its photo of `size` (compose.subject_box): exact from
        its kept cutout, else from its kept model mask (to a model pixel); None if unknown."""
        if job in self.results:
            return compose.subject_box(self.results[job].image.getchannel("A"))
        if job not in self.masks:
            return None
        mask = pipeline.unpack_mask(self.masks[job])
        box = compose.subject_box(postprocess.to_alpha8(mask))
        if box is None:
            return None
        across, down = size[0] / mask.shape[1], size[1] / mask.shape[0]
        return (max(0, int(box[0] * across)), max(0, int(box[1] * down)),
                min(size[0], int(box[2] * across + 0.999)), min(size[1], int(box[3] * down + 0.999)))
