"""Drive the Cutout page like a person does, and record what it asks the network.

One `AppPage` is one browser context (a fresh profile) with the app loaded.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image

BOOT_TIMEOUT_MS = 180_000      # Pyodide + NumPy + Pillow + model download on a busy 2-core machine
CUTOUT_TIMEOUT_MS = 300_000    # the 16-bit model runs ~10x slower in WebAssembly than natively

# Long tasks (main thread busy > 50 ms) are recorded from the very start.
LONG_TASK_OBSERVER = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    window.__longTasks.push({start: entry.startTime, duration: entry.duration});
  }
}).observe({type: "longtask", buffered: true});
"""


class AppPage:
    def __init__(self, browser, server_url: str, init_scripts=()):
        """The app in a new context (fresh profile) of `browser`."""
        context = browser.new_context(accept_downloads=True, viewport={"width": 1200, "height": 900})
        self.attach(context, server_url, init_scripts)

    @classmethod
    def in_context(cls, context, server_url: str, init_scripts=()):
        """The app in a given context (e.g. a persistent one: a fresh profile on disk)."""
        page = cls.__new__(cls)
        page.attach(context, server_url, init_scripts)
        return page

    def attach(self, context, server_url: str, init_scripts=()):
        """Open the app in the given browser context."""
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(server_url))
        self.context = context
        for script in (LONG_TASK_OBSERVER, *init_scripts):
            self.context.add_init_script(script)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.all_timings: list[dict] = []       # each downloaded result's stage timings
        self.console: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", lambda message: self.console.append(f"[{message.type}] {message.text}"))
        self.page.on("pageerror", lambda error: self.console.append(f"[pageerror] {error}"))
        self.started = time.monotonic()
        self.page.goto(server_url)

    # -- state ---------------------------------------------------------------
    @property
    def status(self) -> str:
        return self.page.locator("#status").text_content() or ""

    @property
    def download_link(self):
        return self.page.get_by_role("link", name="Download PNG")

    def wait_ready(self):
        """Until the engine and the default model are loaded; marks `window.__readyAt`."""
        self.page.wait_for_function(
            "() => document.querySelector('#engine').textContent.length > 0",
            timeout=BOOT_TIMEOUT_MS,
        )
        self.page.evaluate("window.__readyAt = performance.now()")
        return time.monotonic() - self.started

    def foreign_requests(self) -> list[str]:
        """Every request that did not go to the page's own origin (blob:/data: stay local)."""
        return [
            url for url in self.requests
            if not url.startswith(self.origin + "/") and not url.startswith(("blob:", "data:"))
        ]

    def long_tasks(self) -> list[dict]:
        return self.page.evaluate("window.__longTasks")

    def timings(self) -> dict:
        raw = self.page.locator("#details").get_attribute("data-timings")
        return json.loads(raw) if raw else {}

    # -- actions -------------------------------------------------------------
    def mark(self):
        """Remember the page's request count: `wait_result` waits for a newer one to finish."""
        self.picked_after = int(self.page.locator("#result").get_attribute("data-request") or 0)

    def pick(self, path: Path | str):
        """Choose `path` in the file input; `wait_result` then waits for this pick."""
        self.mark()
        self.page.set_input_files("#file-input", str(path))

    def deliver(self, how: str, name: str, mime: str, data: bytes):
        """Drop a file on the drop zone, or paste it, through a real DataTransfer."""
        self.mark()
        self.page.evaluate(
            """([how, name, mime, bytes]) => {
                const transfer = new DataTransfer();
                transfer.items.add(new File([new Uint8Array(bytes)], name, {type: mime}));
                if (how === "drop") {
                    document.querySelector("#drop-zone").dispatchEvent(
                        new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
                } else {
                    document.dispatchEvent(
                        new ClipboardEvent("paste", {clipboardData: transfer, bubbles: true, cancelable: true}));
                }
            }""",
            [how, name, mime, list(data)],
        )

    def wait_result(self):
        """Until the page has finished the last pick (result or error); returns the status line."""
        self.page.wait_for_function(
            """after => {
                const data = document.querySelector('#result').dataset;
                return Number(data.request || 0) > after && data.done === data.request;
            }""",
            arg=self.picked_after,
            timeout=CUTOUT_TIMEOUT_MS,
        )
        return self.status

    def cutout(self, path: Path | str, save_to: Path) -> Image.Image:
        """Pick `path`, wait, click "Download PNG", save it; returns the PNG opened."""
        self.pick(path)
        return self.cutout_after_pick(save_to)

    def cutout_after_pick(self, save_to: Path) -> Image.Image:
        """Wait for the result of the last pick, download it to `save_to` and open it."""
        status = self.wait_result()
        assert self.download_link.is_visible(), f"no download offered; status: {status!r}\n" + self.log()
        self.all_timings.append(self.timings())
        with self.page.expect_download() as download:
            self.download_link.click()
        download.value.save_as(save_to)
        self.last_download_name = download.value.suggested_filename
        image = Image.open(save_to)
        image.load()
        return image

    def open_settings(self):
        if not self.page.locator("#settings").evaluate("details => details.open"):
            self.page.get_by_text("Settings", exact=True).click()

    def choose_model(self, name: str):
        """Open Settings (as a person would) and pick the model."""
        self.open_settings()
        self.page.get_by_label("Model").select_option(name)

    def log(self) -> str:
        return "\n".join(self.console[-40:])

    def close(self):
        self.context.close()
