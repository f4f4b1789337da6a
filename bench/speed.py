"""Cutout against @imgly/background-removal 1.7.0 in Debian's Chromium: one table, one run.

    .venv/bin/python bench/speed.py [--models isnet-int8,isnet-fp16] [--sizes 1,4,12,24]
        [--repeat 3] [--seed N] [--imgly-ort 1.21.0|ours] [--photo PATH] [--native] [--no-build]

For each model (ours, and IMG.LY's name for the same weights: isnet-int8 = isnet_quint8,
both 8-bit from the same 16-bit weights, quantized differently; isnet-fp16 = isnet_fp16),
both pages get their own browser (fresh profile) and, in one run:

- cold first visit: page interactive, model ready, and the first cutout of the smallest
  photo, chosen as soon as the page takes a file (seconds since navigation); one page at
  a time: the first page's own work after its cutout (ours saves itself for offline use)
  ends before the second page opens;
- repeat visit: the browser restarted on the same profile, seconds until the model is ready;
- per photo (one devset photo enlarged to about each size), warm, median of --repeat:
  from file chosen to our first look visible (the rough cutout the page shows while the
  full one is made, `app.core.pipeline.first_look`), to cutout visible and to PNG ready,
  split by stage, with the inference
  throughput (ISNet at 1024x1024 is about 160 GMAC = 320 GFLOP per image), the longest
  task that blocked the page's main thread, and the peak memory of the browser's process
  tree (summed RSS and PSS, sampled 4x a second while that photo size ran);

with our/their ratios. Ours and theirs alternate run by run, in an order drawn from --seed,
so a machine that gets busier hurts both alike. The machine is noisy: compare ratios
within a run.

How IMG.LY runs (bench/imgly/): its page imports the library's ESM build through an import
map (its only bare imports are onnxruntime-web and onnxruntime-web/webgpu), preloads the
model at page load as its docs suggest, and calls removeBackground(file, config) per photo
(its default PNG output), then shows the PNG; so its cutout is visible only after its PNG.
publicPath is the bench server's /data/, where resources.json is written here: the ISNet
weights from the installed @imgly/background-removal-data 1.4.5 (the bytes our app
ships, checked against models/manifest.json) under the names 1.7.0 looks for
(/models/isnet_quint8, /models/isnet_fp16; chunk field `name`), and ONNX Runtime's
threaded SIMD wasm and its .mjs from node_modules: by default onnxruntime-web 1.21.0, the
exact version 1.7.0 declares as its peer (npm alias onnxruntime-web-1.21.0), or ours with
--imgly-ort ours. Every request both browsers make is recorded; a request off the
bench's own origins is printed (the machine has no internet: it would hang).

Stages. Ours, from the worker's own timings: decode (+ EXIF), preprocess (1024x1024 input),
inference, postprocess (edge refinement at full resolution, compose), encode (PNG, after
the cutout is drawn); "other" is the rest of the time to PNG (file read, moving pixels,
messages, drawing). Theirs, from its progress callback and ONNX Runtime's session.run
(wrapped on the same module instance): decode (createImageBitmap + getImageData),
preprocess (JS bilinear resize to 1024x1024, normalise), inference (session.run),
postprocess (mask to 8 bits, JS bilinear upscale to full size, alpha into the photo),
encode (canvas to PNG); "other" is the rest (config parsing, waiting on init).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import chromium  # noqa: E402  (bench/chromium.py: browser, server, photos, memory)
from devset import DEFAULT_DEVSET  # noqa: E402

NODE_MODULES = ROOT / "node_modules"
IMGLY_PAGE = ROOT / "bench" / "imgly"
IMGLY_PACKAGE = NODE_MODULES / "@imgly" / "background-removal"
DATA_PACKAGE = NODE_MODULES / "@imgly" / "background-removal-data"
IMGLY_ORT = {"1.21.0": NODE_MODULES / "onnxruntime-web-1.21.0", "ours": NODE_MODULES / "onnxruntime-web"}
# Our model -> (IMG.LY 1.7.0's resource name, the data package 1.4.5's resource name).
THEIR_MODEL = {"isnet-int8": ("isnet_quint8", "/models/small"), "isnet-fp16": ("isnet_fp16", "/models/medium")}
ORT_FILES = ("ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs",
             "ort-wasm-simd-threaded.jsep.wasm", "ort-wasm-simd-threaded.jsep.mjs")
# ISNet at 1024x1024: its 114 Conv nodes do 159.6 GMAC (counted from the prepared fp16 model
# with onnx shape inference: output elements x input channels per group x kernel area).
GFLOP_PER_IMAGE = 320.0
DEFAULT_PHOTO = DEFAULT_DEVSET / "fur_soft" / "am_GT05.jpg"
COLD_TIMEOUT_MS = 600_000
RUN_TIMEOUT_MS = 900_000
IMPLS = ("Cutout", "IMG.LY")

# Recorded in every page from the very start (performance.now() milliseconds since navigation):
# long main-thread tasks; in our page also when a file is chosen, when the cutout is drawn
# (the next frame after putImageData), when the PNG is offered, the worker's pushed stages,
# and when the page became interactive and the engine ready.
RECORDER = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longTasks.push({start: entry.startTime, duration: entry.duration});
}).observe({type: "longtask", buffered: true});
"""
OUR_RECORDER = RECORDER + """
window.__marks = {};
window.__runs = [];
window.__stages = [];
let current = null;
document.addEventListener("change", (event) => {
  if (event.target && event.target.id === "file-input") {
    current = {chosen: performance.now()};
    window.__runs.push(current);
  }
}, true);
const putImageData = CanvasRenderingContext2D.prototype.putImageData;
CanvasRenderingContext2D.prototype.putImageData = function (...args) {
  const result = putImageData.apply(this, args);
  const run = current;
  // The first look (a rough cutout while the full one is made) has its own canvas.
  const what = this.canvas && this.canvas.id === "first-look" ? "look" : "visible";
  if (run && run[what] === undefined && run["drawn " + what] === undefined) {
    run["drawn " + what] = performance.now();
    requestAnimationFrame(() => { run[what] = performance.now(); });
  }
  return result;
};
const Channel = window.BroadcastChannel;
window.BroadcastChannel = class extends Channel {
  constructor(name) {
    super(name);
    this.addEventListener("message", (event) => {  // the worker's progress (JSON); not the offline/privacy lines
      if (typeof event.data === "string") window.__stages.push({at: performance.now(), ...JSON.parse(event.data)});
    });
  }
};
document.addEventListener("DOMContentLoaded", () => {
  const zone = document.getElementById("drop-zone");
  const engine = document.getElementById("engine");
  const link = document.getElementById("download");
  const status = document.getElementById("status");
  const check = () => {
    if (window.__marks.interactive === undefined && !zone.classList.contains("booting")) window.__marks.interactive = performance.now();
    if (window.__marks.ready === undefined && engine.textContent.length > 0) window.__marks.ready = performance.now();
    if (current && current.png === undefined && !link.hidden) current.png = performance.now();
    if (current && current.error === undefined && status.classList.contains("error")) current.error = status.textContent;
  };
  const observer = new MutationObserver(check);
  for (const node of [zone, engine, link, status]) {
    observer.observe(node, {attributes: true, childList: true, characterData: true, subtree: true});
  }
  check();
});
"""


# -- IMG.LY's site ------------------------------------------------------------------------
def sha256_of(paths) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def imgly_site(folder: Path, ort_package: Path, models: list[str]) -> dict:
    """Lay out IMG.LY's bench site in `folder` (symlinks into node_modules, a translated
    resources.json); returns what it serves. The weights are checked to be the bytes
    our app ships (models/manifest.json)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    (folder / "vendor").mkdir()
    data.mkdir()
    for name in ("index.html", "bench.mjs"):
        (folder / name).symlink_to(IMGLY_PAGE / name)
    (folder / "vendor" / "imgly").symlink_to(IMGLY_PACKAGE / "dist")
    (data / "chunks").symlink_to(DATA_PACKAGE / "dist")
    (data / "ort").symlink_to(ort_package / "dist")

    source = json.loads((DATA_PACKAGE / "dist" / "resources.json").read_text())
    manifest = json.loads((ROOT / "models" / "manifest.json").read_text())
    resources = {}
    for ours in models:
        theirs, original = THEIR_MODEL[ours]
        entry = source[original]
        chunks = [DATA_PACKAGE / "dist" / chunk["hash"] for chunk in entry["chunks"]]
        # The downloaded file our app's model is prepared from (pruned outputs etc.): same weights.
        # The 8-bit models are both quantized from the 16-bit weights, differently: IMG.LY's
        # dynamically (its own file), ours statically by the build (builder/quantize_model.py).
        raw = manifest[ours].get("raw", manifest[ours])
        if manifest[ours]["source"]["resource"] == original and sha256_of(chunks) != raw["sha256"]:
            raise SystemExit(f"{original} in {DATA_PACKAGE} is not the {ours} weights of models/manifest.json")
        resources[f"/models/{theirs}"] = {
            "chunks": [{"name": f"chunks/{chunk['hash']}", "offsets": chunk["offsets"]} for chunk in entry["chunks"]],
            "size": entry["size"],
            "mime": entry["mime"],
        }
    for name in ORT_FILES:
        path = ort_package / "dist" / name
        size = path.stat().st_size
        resources[f"/onnxruntime-web/{name}"] = {
            "chunks": [{"name": f"ort/{name}", "offsets": [0, size]}],
            "size": size,
            "mime": "text/javascript" if name.endswith(".mjs") else "application/wasm",
        }
    (data / "resources.json").write_text(json.dumps(resources, indent=1))
    return {"ort": json.loads((ort_package / "package.json").read_text())["version"],
            "imgly": json.loads((IMGLY_PACKAGE / "package.json").read_text())["version"],
            "data": json.loads((DATA_PACKAGE / "package.json").read_text())["version"]}


# -- the two pages --------------------------------------------------------------------------
class Page:
    """One implementation's page in its own browser (persistent profile)."""

    impl = ""
    recorder = RECORDER
    service_workers = "allow"

    def __init__(self, playwright, profile: Path, url: str, memory: chromium.TreeMemory, key: str):
        self.profile, self.url, self.memory, self.key = profile, url, memory, key
        self.context = chromium.launch(playwright, profile, service_workers=self.service_workers)
        memory.watch(key, profile)
        self.requests: list[str] = []
        self.console: list[str] = []
        self.context.add_init_script(self.recorder)
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page = self.context.new_page()
        self.page.on("console", lambda message: self.console.append(f"[{message.type}] {message.text}"))
        self.page.on("pageerror", lambda error: self.console.append(f"[pageerror] {error}"))
        self.page.goto(url)
        self.done = 0

    def close(self):
        self.context.close()

    def foreign_requests(self) -> list[str]:
        origin = self.url.split("/", 3)[:3]
        prefix = "/".join(origin) + "/"
        return [url for url in self.requests if not url.startswith((prefix, "blob:", "data:"))]

    def pick(self, path: Path):
        self.page.set_input_files("#file-input", str(path))
        self.done += 1

    def long_tasks(self, start_ms: float, end_ms: float) -> list[float]:
        tasks = self.page.evaluate("window.__longTasks")
        return [task["duration"] / 1000 for task in tasks if start_ms <= task["start"] <= end_ms]

    def fail(self, what: str):
        raise SystemExit(f"{self.impl}: {what}\n" + "\n".join(self.console[-30:]))

    def settle(self):
        """Wait until the page has nothing more to do of its own after its first cutout."""


class OurPage(Page):
    impl = "Cutout"
    recorder = OUR_RECORDER

    def settle(self):
        """After the first cutout the page saves itself for offline use (static/offline.js:
        the service worker downloads and checks every file): wait for that to end."""
        if self.service_workers == "allow":
            self.page.wait_for_function(
                "['ready', 'model', 'failed', 'unsupported'].includes(document.getElementById('offline').dataset.state)",
                timeout=COLD_TIMEOUT_MS)

    def wait_interactive(self) -> float:
        self.page.wait_for_function("window.__marks && window.__marks.interactive !== undefined", timeout=COLD_TIMEOUT_MS)
        return self.page.evaluate("window.__marks.interactive") / 1000

    def wait_ready(self) -> float:
        self.page.wait_for_function("window.__marks && window.__marks.ready !== undefined", timeout=COLD_TIMEOUT_MS)
        return self.page.evaluate("window.__marks.ready") / 1000

    def wait_run(self, timeout: float = RUN_TIMEOUT_MS) -> dict:
        index = self.done - 1
        self.page.wait_for_function(
            "i => { const run = window.__runs[i]; return run && ((run.png !== undefined && run.visible !== undefined)"
            " || run.error !== undefined); }", arg=index, timeout=timeout)
        run = self.page.evaluate("i => window.__runs[i]", index)
        if run.get("error"):
            self.fail(f"the photo failed: {run['error']}")
        timings = json.loads(self.page.locator("#details").get_attribute("data-timings") or "{}")
        details = self.page.locator("#details").text_content() or ""
        stages = {name: timings.get(name)
                  for name in ("decode", "first_look", "preprocess", "inference", "postprocess", "encode")}
        png = (run["png"] - run["chosen"]) / 1000
        look = {"first look": (run["look"] - run["chosen"]) / 1000} if "look" in run else {}
        return {
            **look,
            "visible": (run["visible"] - run["chosen"]) / 1000,
            "png": png,
            "visible at": run["visible"] / 1000,
            "png at": run["png"] / 1000,
            **stages,
            "other": png - sum(value or 0 for value in stages.values()),
            "ui": max(self.long_tasks(run["chosen"], run["png"]), default=0.0),
            "size": details.split(" · ")[1] if " · " in details else "",
        }


class TheirPage(Page):
    impl = "IMG.LY"

    def wait_interactive(self) -> float:
        self.page.wait_for_function("window.__bench && window.__bench.marks.interactive !== undefined", timeout=COLD_TIMEOUT_MS)
        return self.page.evaluate("window.__bench.marks.interactive") / 1000

    def wait_ready(self) -> float:
        self.page.wait_for_function(
            "window.__bench && (window.__bench.marks.ready !== undefined || window.__bench.errors.length > 0)",
            timeout=COLD_TIMEOUT_MS)
        bench = self.page.evaluate("window.__bench")
        if bench["errors"]:
            self.fail(f"preload failed: {bench['errors']}")
        return bench["marks"]["ready"] / 1000

    def info(self) -> dict:
        return self.page.evaluate("window.__bench.info")

    def wait_run(self, timeout: float = RUN_TIMEOUT_MS) -> dict:
        index = self.done - 1
        self.page.wait_for_function("i => { const run = window.__bench.runs[i]; return run && run.done; }",
                                    arg=index, timeout=timeout)
        run = self.page.evaluate("i => window.__bench.runs[i]", index)
        if run.get("error"):
            self.fail(f"the photo failed: {run['error']}")
        marks = run["stages"]
        seconds = lambda a, b: (b - a) / 1000  # noqa: E731
        stages = {
            "decode": seconds(marks["decode"], marks["inference"]),
            "preprocess": seconds(marks["inference"], run["run_start"]),
            "inference": seconds(run["run_start"], run["run_end"]),
            "postprocess": seconds(run["run_end"], marks["encode"]),
            "encode": seconds(marks["encode"], run["png"]),
        }
        png = seconds(run["chosen"], run["png"])
        return {
            "visible": seconds(run["chosen"], run["visible"]),
            "png": png,
            "visible at": run["visible"] / 1000,
            "png at": run["png"] / 1000,
            **stages,
            "other": png - sum(stages.values()),
            "ui": max(self.long_tasks(run["chosen"], run["visible"]), default=0.0),
            "size": f"{run['width']}×{run['height']}",
        }


# -- the measurements ------------------------------------------------------------------------
def open_page(impl: str, playwright, profile: Path, urls: dict, model: str, memory) -> Page:
    if impl == "Cutout":
        return OurPage(playwright, profile, urls[impl] + f"?model={model}&backend=wasm", memory, f"{impl}:{model}")
    return TheirPage(playwright, profile, urls[impl] + f"?model={THEIR_MODEL[model][0]}", memory, f"{impl}:{model}")


def cold_visit(impl, playwright, profile, urls, model, memory, photo: Path) -> tuple[Page, dict]:
    """A first visit on a fresh profile; the photo is chosen as soon as the page takes one."""
    started = time.monotonic()
    page = open_page(impl, playwright, profile, urls, model, memory)
    row = {"interactive": page.wait_interactive()}
    page.pick(photo)
    run = page.wait_run(COLD_TIMEOUT_MS)
    row["ready"] = page.wait_ready()
    row["first visible"] = run["visible at"]
    row["first png"] = run["png at"]
    row["cold memory"] = memory.peak(page.key, started, time.monotonic())
    return page, row


def repeat_visit(impl, playwright, profile, urls, model, memory) -> dict:
    """The browser restarted on the same profile: seconds from navigation to model ready."""
    page = open_page(impl, playwright, profile, urls, model, memory)
    try:
        return {"repeat interactive": page.wait_interactive(), "repeat ready": page.wait_ready(),
                "repeat foreign": page.foreign_requests()}
    finally:
        page.close()


def measure_model(playwright, urls, model, photos: dict, repeat: int, rng: random.Random,
                  work: Path, memory, order_log: list[str]) -> dict:
    """{impl: {row name: value}} for one model, both implementations, in one go."""
    results = {impl: {} for impl in IMPLS}
    profiles = {impl: Path(tempfile.mkdtemp(prefix=f"{impl.replace('.', '')}-{model}-", dir=work)) for impl in IMPLS}
    pages = {}
    smallest = photos[min(photos)]
    try:
        cold_order = rng.sample(IMPLS, 2)
        order_log.append(f"{model} cold: " + ", ".join(cold_order))
        for impl in cold_order:
            pages[impl], row = cold_visit(impl, playwright, profiles[impl], urls, model, memory, smallest)
            pages[impl].settle()      # the other page's cold visit must not share the machine with it
            results[impl].update(row)
            print(f"  {model} {impl}: cold first PNG at {row['first png']:.1f} s", file=sys.stderr, flush=True)
        for mp, path in photos.items():
            runs = {impl: [] for impl in IMPLS}
            peaks = {impl: [] for impl in IMPLS}
            orders = []
            for _ in range(repeat):
                order = rng.sample(IMPLS, 2)
                orders.append("".join(impl[0] for impl in order))
                for impl in order:
                    page = pages[impl]
                    started = time.monotonic()
                    page.pick(path)
                    runs[impl].append(page.wait_run())
                    peaks[impl].append(memory.peak(page.key, started, time.monotonic()))
            order_log.append(f"{model} {mp:g} MP: " + " ".join(orders))
            for impl in IMPLS:
                cells = {key: chromium.median(run[key] for run in runs[impl])
                         for key in runs[impl][0] if key not in ("size", "visible at", "png at")}
                cells["size"] = runs[impl][0]["size"]
                cells["rss"] = max(peak["rss"] or 0 for peak in peaks[impl])
                cells["pss"] = max(peak["pss"] or 0 for peak in peaks[impl])
                cells["gflops"] = GFLOP_PER_IMAGE / cells["inference"] if cells.get("inference") else None
                results[impl][mp] = cells
            print(f"  {model} {mp:g} MP: PNG ready Cutout {results['Cutout'][mp]['png']:.1f} s, "
                  f"IMG.LY {results['IMG.LY'][mp]['png']:.1f} s", file=sys.stderr, flush=True)
        for impl, page in pages.items():
            results[impl]["foreign"] = page.foreign_requests()
            results[impl]["requests"] = list(page.requests)
            if impl == "IMG.LY":
                results[impl]["info"] = page.info()
    finally:
        for page in pages.values():
            page.close()
    repeat_order = rng.sample(IMPLS, 2)
    order_log.append(f"{model} repeat visit: " + ", ".join(repeat_order))
    for impl in repeat_order:
        results[impl].update(repeat_visit(impl, playwright, profiles[impl], urls, model, memory))
    return results


def native_cells(model: str, photos: dict) -> dict:
    """Native onnxruntime on the same photos, the same Python pipeline (reference)."""
    import asyncio

    from app.core import pipeline
    from app.core.spec import get_spec
    from app.runtime.ort_native import DEFAULT_MODEL_DIR, NativeSession

    spec = get_spec(model)
    session = NativeSession.from_dir(DEFAULT_MODEL_DIR, spec)
    cells = {}
    for mp, path in photos.items():
        cutout = asyncio.run(pipeline.remove_background(path.read_bytes(), session, spec))
        pipeline.encode(cutout)
        timings = dict(cutout.timings)
        timings["png"] = sum(timings.values())
        timings["gflops"] = GFLOP_PER_IMAGE / timings["inference"]
        cells[mp] = timings
    return cells


# -- the table ---------------------------------------------------------------------------------
def summarize_requests(urls: list[str]) -> str:
    kinds: dict[str, int] = {}
    for url in urls:
        path = "/" + url.split("/", 3)[3].split("?")[0] if url.count("/") >= 3 else url
        if url.startswith(("blob:", "data:")):
            kind = url.split(":", 1)[0] + ": URLs"
        elif path.startswith("/data/chunks/"):
            kind = "model chunks"
        elif path.startswith("/data/ort/"):
            kind = path[len("/data/"):]
        else:
            kind = path
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{kind} x{count}" if count > 1 else kind for kind, count in kinds.items())


def print_table(models, sizes, photos, results, native, header: list[str]):
    MB = 2**20
    width_label, width_cell = 36, 9
    def fmt(value, kind):
        if value is None:
            return f"{'-':>{width_cell}}"
        if kind == "MB":
            return f"{value / MB:>{width_cell}.0f}"
        if kind == "x":
            return f"{value:>{width_cell - 1}.2f}x"
        if kind == "GF":
            return f"{value:>{width_cell}.1f}"
        return f"{value:>{width_cell}.2f}"

    def ratio(ours, theirs):
        """ours/theirs; none where either is too small to divide meaningfully (< 10 ms)."""
        if ours is None or theirs is None or min(abs(ours), abs(theirs)) < 0.01:
            return None
        return ours / theirs

    group = ["Cutout", "IMG.LY", "ours/th"] + (["native"] if native else [])
    lines = header[:]
    top = f"{'':<{width_label}}"
    sub = f"{'':<{width_label}}"
    for model in models:
        name = f"{model} = {THEIR_MODEL[model][0]}"
        span = width_cell * len(group) + 2
        top += f"  {name:^{span - 2}}"
        sub += "  " + "".join(f"{col:>{width_cell}}" for col in group)
    lines += [top, sub]

    def row(label, getter, kind="s", ratio_ok=True, native_getter=None):
        line = f"{label:<{width_label}}"
        for model in models:
            ours, theirs = getter(results[model]["Cutout"]), getter(results[model]["IMG.LY"])
            line += "  " + fmt(ours, kind) + fmt(theirs, kind) + fmt(ratio(ours, theirs) if ratio_ok else None, "x")
            if native:
                line += fmt(native_getter(native[model]) if native_getter else None, kind)
        lines.append(line)

    lines.append("Start, seconds since navigation (first visit: fresh profile; smallest photo chosen at once)")
    row("  page interactive", lambda r: r["interactive"])
    row("  model ready", lambda r: r["ready"])
    row("  first cutout visible", lambda r: r["first visible"])
    row("  first PNG ready", lambda r: r["first png"])
    row("  peak memory, first visit (MB RSS)", lambda r: r["cold memory"]["rss"], "MB")
    row("  repeat visit: model ready", lambda r: r["repeat ready"])
    for mp in sizes:
        some = results[models[0]]["Cutout"][mp]
        lines.append(f"{mp:g} MP photo ({some['size']}), warm, seconds from file chosen (median)")
        row("  first look visible (rough cutout)", lambda r, mp=mp: r[mp].get("first look"))
        row("  cutout visible", lambda r, mp=mp: r[mp]["visible"])
        row("  PNG ready", lambda r, mp=mp: r[mp]["png"], native_getter=lambda n, mp=mp: n[mp]["png"])
        for stage in ("decode", "first_look", "preprocess", "inference", "postprocess", "encode", "other"):
            row(f"    {stage}", lambda r, mp=mp, s=stage: r[mp].get(s),
                native_getter=None if stage == "other" else (lambda n, mp=mp, s=stage: n[mp].get(s)))
        row("  inference GFLOP/s", lambda r, mp=mp: r[mp]["gflops"], "GF", native_getter=lambda n, mp=mp: n[mp]["gflops"])
        row("  longest main-thread task", lambda r, mp=mp: r[mp]["ui"])
        row("  peak memory (MB, RSS sum)", lambda r, mp=mp: r[mp]["rss"], "MB")
        row("  peak memory (MB, PSS sum)", lambda r, mp=mp: r[mp]["pss"], "MB")
    print("\n".join(lines))


def machine() -> str:
    model_name = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model_name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kb / 2**20:.0f} GB RAM"
    except (OSError, ValueError):
        pass
    return f"{os.cpu_count()} cores ({model_name}){memory}, {platform.system()} {platform.release()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="isnet-int8,isnet-fp16", help="ours, comma-separated")
    parser.add_argument("--sizes", default="1,4,12,24", help="megapixels, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per photo and page (median)")
    parser.add_argument("--seed", type=int, default=None, help="order of ours/theirs (default: drawn, printed)")
    parser.add_argument("--imgly-ort", choices=sorted(IMGLY_ORT), default="1.21.0",
                        help="ONNX Runtime Web for IMG.LY: its declared peer 1.21.0, or ours")
    parser.add_argument("--photo", type=Path, default=DEFAULT_PHOTO, help="the photo enlarged to each size")
    parser.add_argument("--native", action="store_true", help="add native onnxruntime (our pipeline) as reference")
    parser.add_argument("--no-build", action="store_true", help="serve dist/ as it is")
    parser.add_argument("--block-service-worker", action="store_true",
                        help="our page without its service worker (what it costs or saves)")
    args = parser.parse_args()
    if args.block_service_worker:
        OurPage.service_workers = "block"
    models = args.models.split(",")
    for model in models:
        if model not in THEIR_MODEL:
            parser.error(f"unknown model {model}; choose from {', '.join(THEIR_MODEL)}")
    sizes = sorted(float(size) for size in args.sizes.split(","))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    rng = random.Random(seed)
    from playwright.sync_api import sync_playwright

    dist = ROOT / "dist" if args.no_build else chromium.build_site()
    results, order_log = {}, []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cutout-speed-") as tmp:
        work = Path(tmp)
        photos = chromium.camera_photos(work, args.photo, sizes)
        versions = imgly_site(work / "imgly", IMGLY_ORT[args.imgly_ort], models)
        with chromium.serving(dist) as our_url, chromium.serving(work / "imgly", csp=False) as their_url, \
                chromium.TreeMemory() as memory, sync_playwright() as playwright:
            urls = {"Cutout": our_url, "IMG.LY": their_url}
            for model in models:
                print(f"measuring {model}", file=sys.stderr, flush=True)
                results[model] = measure_model(playwright, urls, model, photos, args.repeat, rng, work,
                                               memory, order_log)
        # After Playwright has closed: its event loop would refuse asyncio.run.
        native = {model: native_cells(model, photos) for model in models} if args.native else None
    load_after = os.getloadavg()

    ours_versions = {name: json.loads((NODE_MODULES / name / "package.json").read_text())["version"]
                     for name in ("onnxruntime-web", "pyodide", "@pyscript/core")}
    info = results[models[0]]["IMG.LY"].get("info", {})
    header = [
        f"Cutout vs @imgly/background-removal {versions['imgly']}  ({datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z})",
        f"machine: {machine()}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after",
        f"browser: {chromium.chromium_version()}, headless, WebAssembly (CPU)",
        f"Cutout: dist/ (onnxruntime-web {ours_versions['onnxruntime-web']}, Pyodide {ours_versions['pyodide']}, "
        f"PyScript {ours_versions['@pyscript/core']}; service worker {OurPage.service_workers}ed)",
        f"IMG.LY: bench/imgly page, onnxruntime-web {info.get('ort', versions['ort'])} "
        f"({'its peer version' if args.imgly_ort == '1.21.0' else 'ours'}), "
        f"cross-origin isolated {info.get('isolated')}, {info.get('ort_threads')} threads; "
        f"weights: @imgly/background-removal-data {versions['data']} (the same files as ours)",
        f"photo: {args.photo.relative_to(ROOT.parent) if args.photo.is_relative_to(ROOT.parent) else args.photo}, "
        f"enlarged (Lanczos) to each size, JPEG q92; median of {args.repeat}",
        f"seed {seed}; order (C = Cutout first, I = IMG.LY first): " + "; ".join(order_log),
    ]
    for model in models:
        for impl in IMPLS:
            foreign = results[model][impl]["foreign"] + results[model][impl]["repeat foreign"]
            if foreign:
                header.append(f"!! {impl} ({model}) requested off its origin: {', '.join(sorted(set(foreign)))}")
    first = models[0]
    header.append(f"IMG.LY ({first}) fetched, first visit and warm runs: "
                  f"{summarize_requests(results[first]['IMG.LY']['requests'])}")
    header.append("")
    print()
    print_table(models, sizes, photos, results, native, header)
    print(f"\nGFLOP/s = {GFLOP_PER_IMAGE:.0f} GFLOP (ISNet, 1024x1024, about 160 GMAC) / inference seconds. "
          "IMG.LY shows its cutout only as the PNG it returns, so its 'visible' comes after its PNG.\n"
          "Stages: see bench/speed.py's docstring. Peak memory: the browser's whole process tree "
          "while that photo size ran (both browsers stay open; each is measured on its own tree).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
