"""The page's one door to the Pyodide worker named "cutout" (`app/worker.py`).

Every call the page makes to the worker goes through `WorkerClient`, so the worker's
API is listed once on this side: each method names the job it is about, and returns
the worker's reply (`ok`, and on failure `kind` and `error`). The worker pushes its
progress on a BroadcastChannel unique to this page (`connect`), and moves a photo's
pixels to the page over a MessagePort (a copy of 100 MB at 24 MP, and the wait for its
memory, would otherwise come with every reply): first looks go straight to the page's
handler; a reply with `pixels` gets them as `rgba` here before the page sees it.
Imports: `pyscript`.
"""
import asyncio
import json

from pyscript import document, window, workers
from pyscript.ffi import create_proxy

WORKER_SCRIPT = 'script[type="py"][worker][name="cutout"]'
PIXEL_WAIT_SECONDS = 0.005      # between looks for pixels that have not arrived yet (they come first)


class WorkerClient:
    def __init__(self, worker, listeners, pixel_port, on_first_look):
        self.worker = worker
        self._listeners = listeners      # (channel, proxy) pairs, kept alive
        self._on_first_look = on_first_look
        self._pixels = {}                # number -> RGBA pixels arrived before their reply
        self._pixel_proxy = create_proxy(self._take_pixels)
        pixel_port.onmessage = self._pixel_proxy
        self._pixel_port = pixel_port

    @classmethod
    async def connect(cls, on_progress, on_first_look):
        """Wait for the worker to start, then have it push each progress snapshot (JSON)
        to `on_progress(event)` and each first look of a photo (`{job, width, height,
        rgba}`) to `on_first_look(event)`."""
        worker = await workers["cutout"]
        name = "cutout-progress-{}".format(window.Math.random())    # this page's own channel
        channel = window.BroadcastChannel.new(name)
        proxy = create_proxy(on_progress)
        channel.addEventListener("message", proxy)
        await worker.report_to(name)
        return cls(worker, [(channel, proxy)], await cls._open_pixel_port(worker), on_first_look)

    @staticmethod
    async def _open_pixel_port(worker):
        """This page's end of a new MessagePort whose other end the worker now holds."""
        channel = window.MessageChannel.new()
        transfer = window.Array.new()
        transfer.push(channel.port2)
        document.querySelector(WORKER_SCRIPT).xworker.postMessage("pixel-port", transfer)
        while not await worker.has_pixel_port():
            await asyncio.sleep(PIXEL_WAIT_SECONDS)
        return channel.port1

    def _take_pixels(self, event):
        if event.data.pixels:
            self._pixels[int(event.data.pixels)] = event.data.rgba
        else:
            self._on_first_look(event)

    async def _with_pixels(self, reply):
        """`reply` with its pixels as `rgba` (a reply with none is returned as it is)."""
        if reply.ok and reply.pixels:
            number = int(reply.pixels)
            while number not in self._pixels:
                await asyncio.sleep(PIXEL_WAIT_SECONDS)
            reply.rgba = self._pixels.pop(number)
        return reply

    async def prepare(self, model, backend, failed_before, inference_worker=""):
        """Download and open the model now (the reply names what really runs), in the
        inference worker the page started (its name; '' if none)."""
        return await self.worker.prepare(model, backend, failed_before, inference_worker)

    async def warm_up(self, model):
        """Have the worker run every stage once on a made-up photo while nothing waits (a
        photo asked for meanwhile stops it)."""
        return await self.worker.warm_up(model)

    async def cutout(self, job_id, data, model, options_json, downscale=False, first_look=False):
        return await self._with_pixels(await self.worker.cutout(job_id, data, model, options_json, downscale,
                                                                first_look))

    async def restyle(self, job_id, options_json, edits_json):
        return await self._with_pixels(await self.worker.restyle(job_id, options_json, edits_json))

    async def edit(self, job_id, edits_json):
        return await self._with_pixels(await self.worker.edit(job_id, edits_json))

    async def unsure(self, job_id):
        return await self.worker.unsure(job_id)

    async def show(self, job_id, data, options_json, downscale, edits_json):
        return await self._with_pixels(await self.worker.show(job_id, data, options_json, downscale, edits_json))

    async def export(self, job, data, layout_json, fmt, keep_colour_profile, into_zip=False, background=None,
                     scale=None):
        """`job`'s download (`data`: its file's bytes, for a cutout made again;
        `background`: the bytes of the user's background picture, if chosen)."""
        return await self.worker.export(job.id, job.name, data, job.options, layout_json, fmt,
                                        keep_colour_profile, job.downscale, into_zip,
                                        json.dumps(job.history.edits), background, scale)

    async def common_scale(self, jobs_json, layout_json):
        return await self.worker.common_scale(jobs_json, layout_json)

    async def zip_start(self):
        return await self.worker.zip_start()

    async def zip_finish(self, report):
        return await self.worker.zip_finish(report)

    def cancel(self, job_id):
        self.worker.cancel(job_id)          # a promise; nothing to wait for

    def forget(self, job_id):
        self.worker.forget(job_id)
