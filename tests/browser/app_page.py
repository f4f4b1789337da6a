"""Drive the Cutout page like a person does, and record what it asks the network.

One `AppPage` is one browser context (a fresh profile: no cache, no saved
settings) with the app loaded, so every test that makes its own starts from
nothing and needs no other test. Every request of the context is recorded (the
page's, and its workers' downloads); every status line and every line of the
result's details is logged with its time.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image

BOOT_TIMEOUT_MS = 180_000      # Pyodide + NumPy + Pillow + model download on a busy 2-core machine
CUTOUT_TIMEOUT_MS = 300_000    # the 16-bit model runs ~10x slower in WebAssembly than natively

# Recorded from the very start: long main-thread tasks (> 50 ms), every progress message of
# the worker, how long every click and key press waited for the page's thread, each status
# line and each line of the details.
RECORDERS = """
window.__longTasks = [];
window.__inputs = [];
window.__statusLog = [];
window.__detailsLog = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    window.__longTasks.push({start: entry.startTime, duration: entry.duration});
  }
}).observe({type: "longtask", buffered: true});
// Every progress message the worker pushes to the page (its BroadcastChannel).
window.__progress = [];
window.BroadcastChannel = class extends BroadcastChannel {
  constructor(name) {
    super(name);
    this.addEventListener("message", (event) => {
      if (typeof event.data === "string") window.__progress.push(JSON.parse(event.data));
    });
  }
};
// How long each click or key press waited for the page's thread (input delay), and where it
// landed (the id of the nearest element that has one).
for (const type of ["click", "keydown"]) {
  addEventListener(type, (event) => window.__inputs.push(
    {type, at: event.timeStamp, delay: performance.now() - event.timeStamp,
     where: (event.target.closest && event.target.closest("[id]") || {}).id || ""}), true);
}
document.addEventListener("DOMContentLoaded", () => {
  for (const [id, log] of [["status", window.__statusLog], ["details", window.__detailsLog]]) {
    const node = document.getElementById(id);
    new MutationObserver(() => log.push({at: performance.now(), text: node.textContent}))
      .observe(node, {childList: true, characterData: true, subtree: true});
  }
});
"""


class AppPage:
    def __init__(self, browser, server_url: str, query: str = "", viewport=(1200, 900), setup=None,
                 wait_until: str = "load", color_scheme: str = "light"):
        """The app at `server_url` + `query` in a new context of `browser`;
        `setup(context)` runs before the page opens (e.g. to route requests);
        `wait_until="commit"` returns as soon as the page starts to arrive;
        `color_scheme` is the system's light or dark setting."""
        context = browser.new_context(accept_downloads=True, color_scheme=color_scheme,
                                      viewport={"width": viewport[0], "height": viewport[1]})
        if setup is not None:
            setup(context)
        self.attach(context, server_url + query, wait_until)

    @classmethod
    def in_context(cls, context, url: str):
        """The app in a given context (e.g. a persistent one: a fresh profile on disk)."""
        page = cls.__new__(cls)
        page.attach(context, url)
        return page

    def attach(self, context, url: str, wait_until: str = "load"):
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        self.context = context
        self.context.add_init_script(RECORDERS)
        self.requests: list = []                # playwright Request objects, in order
        self.console: list[str] = []
        self.all_timings: list[dict] = []       # each downloaded result's stage timings
        self.context.on("request", lambda request: self.requests.append(request))
        self.page = self.context.new_page()
        self.page.on("console", lambda message: self.console.append(f"[{message.type}] {message.text}"))
        self.page.on("pageerror", lambda error: self.console.append(f"[pageerror] {error}"))
        self.started = time.monotonic()
        self.page.goto(url, wait_until=wait_until)

    # -- state ---------------------------------------------------------------
    @property
    def status(self) -> str:
        return self.page.locator("#status").text_content() or ""

    @property
    def status_is_error(self) -> bool:
        return "error" in (self.page.locator("#status").get_attribute("class") or "")

    @property
    def engine(self) -> str:
        return self.page.locator("#engine").text_content() or ""

    @property
    def details(self) -> str:
        return self.page.locator("#details").text_content() or ""

    @property
    def busy(self) -> bool:
        return self.page.locator("#result").get_attribute("aria-busy") == "true"

    @property
    def download_link(self):
        return self.page.get_by_role("link", name="Download PNG")

    @property
    def cancel_button(self):
        return self.page.get_by_role("button", name="Cancel", exact=True)

    def status_log(self) -> list[str]:
        return [entry["text"] for entry in self.page.evaluate("window.__statusLog")]

    def details_log(self) -> list[str]:
        return [entry["text"] for entry in self.page.evaluate("window.__detailsLog")]

    def wait_wired(self):
        """Until the page's UI reacts to files (MicroPython has wired its handlers)."""
        self.page.wait_for_selector("#drop-zone:not(.booting)", timeout=BOOT_TIMEOUT_MS)

    def wait_ready(self):
        """Until the engine and the model are loaded (the page names the engine)."""
        self.page.wait_for_function(
            "() => document.querySelector('#engine').textContent.length > 0", timeout=BOOT_TIMEOUT_MS
        )
        return time.monotonic() - self.started

    def wait_status(self, predicate_js: str, timeout: float = BOOT_TIMEOUT_MS):
        """Until `predicate_js` (a JS expression over `text`, the status line) holds."""
        self.page.wait_for_function(
            f"() => {{ const text = document.querySelector('#status').textContent; return {predicate_js}; }}",
            timeout=timeout,
        )
        return self.status

    def expected_threads(self) -> int:
        """The threads the bridge should use here: up to 4 when cross-origin isolated."""
        return self.page.evaluate("crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency)) : 1")

    def urls(self) -> list[str]:
        return [request.url for request in self.requests]

    def requested(self, suffix: str) -> bool:
        """Whether a request for a URL on the origin ending in `suffix` was made."""
        return any(url.startswith(self.origin + "/") and url.split("?")[0].endswith(suffix) for url in self.urls())

    def foreign_requests(self) -> list[str]:
        """Every request that did not go to the page's own origin (blob:/data: stay local)."""
        return [url for url in self.urls()
                if not url.startswith(self.origin + "/") and not url.startswith(("blob:", "data:"))]

    def long_tasks(self, after_ms: float = 0) -> list[dict]:
        return [task for task in self.page.evaluate("window.__longTasks") if task["start"] >= after_ms]

    def worker_progress(self) -> list[dict]:
        """Every progress snapshot the worker pushed: {phase, stage, request, ...}."""
        return self.page.evaluate("window.__progress")

    def inputs(self, after_ms: float = 0) -> list[dict]:
        """Clicks and key presses since `after_ms`: {type, at, delay} in milliseconds."""
        return [event for event in self.page.evaluate("window.__inputs") if event["at"] >= after_ms]

    def now_ms(self) -> float:
        return self.page.evaluate("performance.now()")

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

    def drop_files(self, files: list[tuple[str, str, bytes]]):
        """Drop several files at once on the drop zone, as (name, MIME type, bytes)."""
        self.mark()
        self.page.evaluate(
            """files => {
                const transfer = new DataTransfer();
                for (const [name, mime, bytes] of files) {
                    transfer.items.add(new File([new Uint8Array(bytes)], name, {type: mime}));
                }
                document.querySelector("#drop-zone").dispatchEvent(
                    new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
            }""",
            [[name, mime, list(data)] for name, mime, data in files],
        )

    def job_states(self) -> list[tuple[str, str, str]]:
        """The list of photos: (name, state, its line) of each, in order."""
        return self.page.evaluate(
            """() => [...document.querySelectorAll('#jobs li')].map(item => [
                item.querySelector('.job-name').textContent, item.dataset.state,
                item.querySelector('.job-state').textContent])""")

    def wait_busy(self):
        self.page.wait_for_function("document.querySelector('#result').getAttribute('aria-busy') === 'true'")

    def wait_result(self, timeout: float = CUTOUT_TIMEOUT_MS):
        """Until the page has finished the last pick (result or error); returns the status line."""
        self.page.wait_for_function(
            """after => {
                const data = document.querySelector('#result').dataset;
                return Number(data.request || 0) > after && data.done === data.request;
            }""",
            arg=self.picked_after,
            timeout=timeout,
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
        return self.download(save_to)

    def download(self, save_to: Path) -> Image.Image:
        """Click "Download PNG", save the file to `save_to` and open it."""
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

    def move_slider(self, label: str, value: float):
        """Open Settings and set the slider `label` as a person would; `wait_result`
        then waits for the cutout it redoes."""
        self.open_settings()
        self.mark()
        self.page.get_by_label(label).fill(str(value))

    def choose_model(self, name: str):
        """Open Settings (as a person would) and pick the model."""
        self.open_settings()
        self.page.get_by_label("Model").select_option(name)

    def log(self) -> str:
        return "\n".join(self.console[-40:])

    def close(self):
        self.context.close()
