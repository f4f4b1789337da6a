"""A seller's catalogue on a laptop: one folder of about 40 real photos of mixed sizes (the 16
devset photos, and 8 each enlarged to 4, 12 and 24 MP), cut out by our command line in one
process and with `--workers 2` (a Dask local cluster), and by `rembg p` (rembg's folder mode)
given the same ISNet file. Prints one table: photos per minute and the peak memory of each
process (main, each worker, a nanny if it has its own), with the ratios ours / rembg and
2 workers / 1 worker. `--flat` instead runs `--workers 2` on the folder and on `--copies`
times as many photos (hard-linked copies) and compares each process's peak: memory that
stays flat however long the folder is.

    .venv/bin/python bench/catalogue.py [--photos 40] [--model isnet-int8]
    .venv/bin/python bench/catalogue.py --flat [--photos 40] [--copies 10]

Method:

- Each run is a fresh process, timed by the wall clock from its start to its exit (imports,
  model load and the cluster's start count), after one untimed warm-up run of each tool on
  one photo (rembg's very first run compiles pymatting's numba kernels, about a minute,
  cached on disk after; the warm-up also puts the model and the photos in the page cache).
- Only cutouts that exist and open as a PNG of the photo's size count, so a run that fails
  photos (rembg's folder mode prints an error and goes on, exit status 0) cannot look fast.
- `cutout` looks at each photo twice (itself and its mirror image) by default; a run with
  `--no-mirror` shows what the second look costs (and is what rembg's single look compares to).
- A third run of ours, one process with `--threads 1`, is one core's throughput: on a machine
  whose cores one process already keeps busy, 2 workers / 1 worker cannot be 2, and the
  ratio to this row shows how well the work scales with processes. "Cores busy" is the
  process tree's CPU time (user + system, `getrusage` of the waited-for children) over
  the wall clock.
- Memory: every process of the run's tree, sampled five times a second: its peak resident
  set (the kernel's high-water mark, VmHWM: exact, and cheap to read, unlike PSS), its role
  from its command line (`dask worker [...]`, the resource tracker), and the sum of the
  processes' peaks (an upper bound of their peak together; shared libraries count once
  per process).
- Both run onnxruntime's default thread count (OMP_NUM_THREADS is taken out of the
  environment: rembg sets both thread counts from it).
- rembg runs in its own venv (`.cache/bench-rembg-venv`, pyproject.toml's `bench-rembg`
  group), through its `dis_custom` session with `-x '{"model_path": ...}'`. It accepts a
  model path only inside its home folder, so U2NET_HOME is a temporary folder holding just
  a link to our model file; an audit hook (a `sitecustomize.py` on its PYTHONPATH) refuses
  and records every connection or name lookup beyond this machine, and the folder is
  listed after the run: the table says what either found.
- Not like for like in work per photo: rembg's default cutout is the mask upscaled and
  applied as alpha (no edge refinement, no colour decontamination), ours refines the edge
  and decontaminates the colours as the page does. The model's input also differs a
  little: rembg divides the photo by its brightest value (not 255) before the same mean
  0.5 / std 1, and stretches each output to 0..1.

Imports: Pillow, `bench.chromium` (camera_photos), `app.core.spec` (the model's file),
`builder.venvs` (rembg's venv).
"""
from __future__ import annotations

import argparse
import resource
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from PIL import Image

from chromium import Sampler, camera_photos, descendants, process_table
from devset import DEFAULT_DEVSET, REPO

from app.core.spec import load_specs  # noqa: E402
from builder import venvs  # noqa: E402

VENV = REPO / ".venv"
REMBG_VENV = REPO / ".cache" / "bench-rembg-venv"
REMBG_GROUP = "bench-rembg"
SIZES = (4, 12, 24)             # megapixels of the enlarged copies, 8 photos each by default
MB = 1e6

# Loaded into rembg's Python (sitecustomize.py on PYTHONPATH): refuses, and writes to
# CATALOGUE_NET_LOG, every name lookup or connection beyond this machine.
NETWORK_HOOK = '''
import os, socket, sys

_LOG = os.environ["CATALOGUE_NET_LOG"]
_LOCAL = {None, "", "localhost", "127.0.0.1", "::1"}


def _note(line):
    with open(_LOG, "a") as log:
        log.write(line + "\\n")


def _hook(event, args):
    if event == "socket.getaddrinfo":
        host = args[0].decode() if isinstance(args[0], bytes) else args[0]
        if host not in _LOCAL:
            _note(f"blocked {event} {host!r}")
            raise OSError("network refused by bench/catalogue.py")
    elif event == "socket.connect":
        sock, address = args
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOCAL:
            _note(f"blocked {event} {address!r}")
            raise OSError("network refused by bench/catalogue.py")


sys.addaudithook(_hook)
_note(f"hook {os.getpid()}")
'''


def cutout_command(folder: Path, out: Path, model: str, workers: int, threads: int | None = None,
                   flags: tuple[str, ...] = ()) -> list[str]:
    """Our command line on `folder` (the project's `cutout`), on `workers` processes."""
    spread = ["--workers", str(workers)] if workers > 1 else []
    spread += ["--threads", str(threads)] if threads else []
    return [str(VENV / "bin" / "cutout"), str(folder), "--out", str(out), "--no-progress", "--model", model, *spread,
            *flags]


def ours_output(photo: Path) -> str:
    return f"{photo.stem}-cutout.png"


def rembg_output(photo: Path) -> str:
    return f"{photo.stem}.png"


# -- photos ---------------------------------------------------------------------------
def make_photos(folder: Path, count: int) -> list[Path]:
    """`count` JPEGs in `folder`, sizes interleaved so any prefix mixes them: each devset
    photo, then its enlarged copies (4 and 24 MP for every other one, 12 MP for the rest)."""
    photos = []
    for index, source in enumerate(sorted(Path(DEFAULT_DEVSET).glob("*/*.jpg"))):
        photos.append(Path(shutil.copyfile(source, folder / source.name)))
        sizes = [SIZES[0], SIZES[2]] if index % 2 == 0 else [SIZES[1]]
        for megapixels in sizes:
            if len(photos) < count:
                photos += camera_photos(folder, source, [megapixels]).values()
        if len(photos) >= count:
            break
    return photos[:count]


def copies(photos: list[Path], folder: Path, times: int) -> list[Path]:
    """Each photo `times` over in `folder` under new names (hard links where possible)."""
    folder.mkdir()
    made = []
    for copy in range(times):
        for photo in photos:
            target = folder / f"c{copy:03d}-{photo.name}"
            try:
                os.link(photo, target)
            except OSError:
                shutil.copyfile(photo, target)
            made.append(target)
    return made


def megapixels(photo: Path) -> float:
    with Image.open(photo) as image:
        return image.width * image.height / 1e6


def verified(photos: list[Path], out: Path, name) -> int:
    """How many photos have a cutout in `out` that opens as a PNG of the photo's size."""
    count = 0
    for photo in photos:
        try:
            with Image.open(photo) as source, Image.open(out / name(photo)) as cutout:
                count += cutout.format == "PNG" and cutout.size == source.size
        except OSError:
            continue
    return count


# -- memory of a process tree ---------------------------------------------------------
def memory(pid: int) -> tuple[int, str]:
    """(bytes, "peak RSS") of `pid`: the kernel's high-water mark of its resident set
    (VmHWM), exact however briefly the peak lasted; (0, "") if it is gone. Not PSS: reading
    /proc/PID/smaps_rollup walks the process's page tables under its memory lock, and
    sampling it five times a second made our page-fault-heavy runs about 30 % slower here
    (40 s against 56 s for --workers 2 on the 40 photos)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024, "peak RSS"
    except (OSError, ValueError):
        pass
    return 0, ""


def role(pid: int, root: int, command: bytes) -> str:
    text = command.replace(b"\0", b" ")
    if pid == root:
        return "main"
    if b"dask worker" in text or b"spawn_main" in text:
        return "worker"
    if b"nanny" in text.lower():
        return "nanny"
    if b"resource_tracker" in text:
        return "resource tracker"
    if b"forkserver" in text:
        return "forkserver"
    return "other: " + text.decode(errors="replace").strip()[:40]


class TreePeaks(Sampler):
    """Samples `root` and all its descendants in a background thread: each process's peak
    memory and command line (the last one seen: a Dask worker renames itself), and the
    peak of their sum. A process seen fewer than SHORT_LIVED times (a fork about to exec
    another program) counts in the sum only."""

    SHORT_LIVED = 3

    def __init__(self, root: int, interval: float = 0.2):
        super().__init__(interval)
        self.root = root
        self.peaks: dict[int, int] = {}
        self.commands: dict[int, bytes] = {}
        self.seen: dict[int, int] = {}
        self.kind = ""
        self.total = 0

    def sample(self):
        table = process_table()
        total = 0
        for pid in descendants([self.root], table):
            used, kind = memory(pid)
            if not used:
                continue
            self.kind = self.kind or kind
            total += used
            self.peaks[pid] = max(self.peaks.get(pid, 0), used)
            self.seen[pid] = self.seen.get(pid, 0) + 1
            if pid in table and table[pid][1]:
                self.commands[pid] = table[pid][1]      # the last seen: a Dask worker renames itself
        self.total = max(self.total, total)

    def roles(self) -> list[tuple[str, int]]:
        """[(role, peak bytes)], main first, workers numbered in start order."""
        named = [(role(pid, self.root, self.commands.get(pid, b"")), pid) for pid in self.peaks
                 if self.seen[pid] >= self.SHORT_LIVED or pid == self.root]
        order = {"main": 0, "nanny": 1, "worker": 2}
        named.sort(key=lambda item: (order.get(item[0], 3), item[1]))
        workers = sum(1 for name, _ in named if name == "worker")
        rows, number = [], 0
        for name, pid in named:
            if name == "worker" and workers > 1:
                number += 1
                name = f"worker {number}"
            rows.append((name, self.peaks[pid]))
        return rows

# -- runs ------------------------------------------------------------------------------
@dataclass
class Run:
    label: str
    photos: int
    ok: int
    seconds: float
    status: int
    kind: str
    processes: list[tuple[str, int]] = field(default_factory=list)
    total: int = 0
    log: str = ""
    cpu_seconds: float = 0.0      # user + system time of the whole process tree

    @property
    def cores_busy(self) -> float:
        """How many cores the run kept busy on average."""
        return self.cpu_seconds / self.seconds

    @property
    def per_minute(self) -> float:
        return self.ok / self.seconds * 60

    def peak(self, name: str) -> int | None:
        """The peak of the process called `name`, or the highest of "worker N" for "worker"."""
        values = [used for role_, used in self.processes if role_ == name or
                  (name == "worker" and role_.startswith("worker"))]
        return max(values) if values else None


def timed(label: str, command: list[str], photos: list[Path], out: Path, name, env: dict,
          cwd: Path) -> Run:
    """`command` run to its exit, timed and its process tree's memory sampled."""
    log_path = out.with_suffix(".log")
    with open(log_path, "wb") as log:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        with TreePeaks(process.pid) as peaks:
            status = process.wait()
            seconds = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)   # waited-for descendants included
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    ok = verified(photos, out, name) if out.is_dir() else 0
    tail = log_path.read_text(errors="replace")[-600:] if status or ok < len(photos) else ""
    return Run(label, len(photos), ok, seconds, status, peaks.kind, peaks.roles(), peaks.total, tail, cpu)


def environment() -> dict:
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    return env


class Rembg:
    """`rembg p` in its own venv, given our model file, kept off the network."""

    def __init__(self, work: Path, model_file: Path):
        self.python = venvs.ensure(REMBG_VENV, REMBG_GROUP)
        self.home = work / "u2net-home"
        self.home.mkdir()
        self.model = self.home / model_file.name
        self.model.symlink_to(model_file)
        hook = work / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(NETWORK_HOOK)
        self.net_log = work / "network.log"
        self.env = environment() | {"U2NET_HOME": str(self.home), "PYTHONPATH": str(hook),
                                    "CATALOGUE_NET_LOG": str(self.net_log)}

    def command(self, folder: Path, out: Path) -> list[str]:
        return [str(self.python.parent / "rembg"), "p", "-m", "dis_custom",
                "-x", json.dumps({"model_path": str(self.model)}), str(folder), str(out)]

    def version(self) -> str:
        code = "from importlib.metadata import version as v; print(v('rembg'), v('onnxruntime'))"
        rembg, ort = subprocess.run([str(self.python), "-c", code], capture_output=True, text=True,
                                    env=self.env, check=True).stdout.split()
        return f"rembg {rembg}, onnxruntime {ort}"

    def offline(self) -> str:
        """What the run did beyond its model link: network attempts and files in its home."""
        lines = self.net_log.read_text().splitlines() if self.net_log.exists() else []
        hooked = sum(line.startswith("hook ") for line in lines)
        blocked = [line for line in lines if line.startswith("blocked ")]
        files = sorted(str(p.relative_to(self.home)) for p in self.home.rglob("*") if p != self.model)
        if not hooked:
            return "network hook did not load: offline NOT checked"
        return (f"{len(blocked)} network attempts refused ({hooked} processes hooked)"
                + (f": {blocked[:3]}" if blocked else "")
                + f"; U2NET_HOME {'holds only the model link' if not files else f'gained {files[:5]}'}")


# -- the table -------------------------------------------------------------------------
def machine() -> str:
    """The cores, memory and load average now (call it before the runs)."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())
    memory_gb = int(Path("/proc/meminfo").read_text().split()[1]) / 1e6
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} cores ({cpu}), {memory_gb:.0f} GB RAM, load average {load:.1f} before the runs, "
            "no GPU used")


# The same fixed work in one process, then in two at once: how much two processes can get
# out of this machine at best, whatever the program (vCPUs may share a physical core or
# its caches and memory bandwidth). A busy loop needs no memory; one inference of the
# model on one onnxruntime thread is the heavy part of a photo.
SCALING_PROBES = {
    "a busy loop (no memory)": "n = 0\nfor i in range(30_000_000):\n    n += i",
    "inference, 1 thread": (
        "import numpy as np, onnxruntime as ort\n"
        "o = ort.SessionOptions(); o.intra_op_num_threads = 1\n"
        "s = ort.InferenceSession(MODEL, o, providers=['CPUExecutionProvider'])\n"
        "x = np.random.default_rng(0).random((1, 3, 1024, 1024), dtype=np.float32) - 0.5\n"
        "s.run(None, {s.get_inputs()[0].name: x})\n"
        "start = time.perf_counter()   # after the session is made and warm\n"
        "for _ in range(5): s.run(None, {s.get_inputs()[0].name: x})"),
}


def scaling(model_file: Path) -> list[tuple[str, float, float]]:
    """[(probe, seconds alone, seconds each of two at once)] for SCALING_PROBES."""
    rows = []
    for name, code in SCALING_PROBES.items():
        code = f"MODEL = {str(model_file)!r}\nimport time; start = time.perf_counter()\n{code}\n" \
               "print(time.perf_counter() - start)"
        command = [str(VENV / "bin" / "python"), "-c", code]

        def last_time(process) -> float:
            return float(process.communicate()[0].split()[-1])

        alone = last_time(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
        pair = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        together = max(last_time(process) for process in pair)
        rows.append((name, alone, together))
    return rows


def describe(photos: list[Path]) -> str:
    sizes = [megapixels(photo) for photo in photos]
    small = [mp for mp in sizes if mp < 1]
    parts = [f"{len(small)} devset at {min(small):.2f}-{max(small):.2f} MP"] if small else []
    for target in SIZES:
        count = sum(1 for mp in sizes if abs(mp - target) < 0.5)
        if count:
            parts.append(f"{count} at {target} MP")
    total = sum(photo.stat().st_size for photo in photos) / MB
    return f"{len(photos)} photos ({', '.join(parts)}; {total:.1f} MB of JPEG)"


def print_run(run: Run) -> None:
    failed = "" if run.status == 0 else f"   exit {run.status}"
    print(f"  {run.label:<34}{run.ok:>4}/{run.photos:<4}{run.seconds:9.1f}{run.per_minute:11.1f}"
          f"{run.cores_busy:12.2f}{failed}")
    for name, used in run.processes:
        where = " (with the scheduler and nannies)" if name == "main" and run.peak("worker") and \
            run.peak("nanny") is None else ""
        print(f"      {name + where:<71}{used / MB:12.0f}")
    if len(run.processes) > 1:
        print(f"      {'all processes (sum of their peaks)':<71}{run.total / MB:12.0f}")


def ratio(a, b) -> str:
    return f"{a / b:.2f}" if a and b else "n/a"


def print_failures(runs: list[Run]) -> None:
    for run in runs:
        if run.log:
            print(f"  {run.label}: end of its output:")
            print("    " + run.log.strip().replace("\n", "\n    "))


def warm_up(work: Path, photo: Path, commands: list[tuple[list[str], dict]]) -> None:
    """Each command run once, untimed, on a folder of one photo (`commands` get its path)."""
    warm = work / "warm"
    warm.mkdir()
    os.link(photo, warm / photo.name)
    for number, (command, env) in enumerate(commands):
        out = work / f"warm-{number}"
        timed("warm-up", command(warm, out), [], out, ours_output, env, work)


def catalogue(args, work: Path, photos: list[Path], folder: Path, model_file: Path, host: str) -> None:
    env = environment()
    rembg = Rembg(work, model_file)
    warm_up(work, photos[0], [(lambda into, out: cutout_command(into, out, args.model, 1), env),
                              (rembg.command, rembg.env)])
    runs = [
        timed("ours, 1 worker (in-process)", cutout_command(folder, work / "ours-1", args.model, 1),
              photos, work / "ours-1", ours_output, env, work),
        timed("ours, --workers 2 (Dask)", cutout_command(folder, work / "ours-2", args.model, 2),
              photos, work / "ours-2", ours_output, env, work),
        timed("ours, 1 worker, --threads 1", cutout_command(folder, work / "ours-1t", args.model, 1, 1),
              photos, work / "ours-1t", ours_output, env, work),
        timed("ours, 1 worker, --no-mirror", cutout_command(folder, work / "ours-1m", args.model, 1, flags=("--no-mirror",)),
              photos, work / "ours-1m", ours_output, env, work),
        timed("rembg p -m dis_custom", rembg.command(folder, work / "rembg"),
              photos, work / "rembg", rembg_output, rembg.env, work),
    ]
    one, two, one_core, one_look, theirs = runs
    kind = one.kind or theirs.kind
    print(f"Catalogue: {describe(photos)}, one run each after a warm-up")
    print(f"Machine: {host}")
    print(f"Model: {model_file.name} ({model_file.stat().st_size / MB:.0f} MB) for all; ours: onnxruntime "
          f"{metadata.version('onnxruntime')}, {Path(cutout_command(folder, work, args.model, 1)[0]).name}; "
          f"{rembg.version()}")
    print(f"  {'':<34}{'ok/photos':<9}{'seconds':>9}{'photos/min':>11}{'cores busy':>12}{f'{kind} MB':>12}")
    for run in runs:
        print_run(run)
    print(f"  ours 1 worker / rembg: photos/min {ratio(one.per_minute, theirs.per_minute)}, "
          f"{kind} {ratio(one.total, theirs.total)}")
    print(f"  one look (--no-mirror) / two (the default), 1 worker: photos/min "
          f"{ratio(one_look.per_minute, one.per_minute)}; one look / rembg {ratio(one_look.per_minute, theirs.per_minute)}")
    print(f"  2 workers / 1 worker:  photos/min {ratio(two.per_minute, one.per_minute)}, "
          f"{kind}, all processes {ratio(two.total, one.total)}")
    print(f"  2 workers / 1 worker of 1 thread (scaling with processes): photos/min "
          f"{ratio(two.per_minute, one_core.per_minute)}")
    print(f"  rembg offline: {rembg.offline()}")
    print("  This machine's ceiling for two processes (the same work alone, then two at once):")
    for name, alone, together in scaling(model_file):
        print(f"      {name:<40} {alone:6.1f} s alone, {together:6.1f} s each of two: "
              f"{2 * alone / together:.2f}x the throughput")
    print_failures(runs)


def flat(args, work: Path, photos: list[Path], folder: Path, host: str) -> None:
    env = environment()
    warm_up(work, photos[0], [(lambda into, out: cutout_command(into, out, args.model, 1), env)])
    many_folder = work / "many"
    many = copies(photos, many_folder, args.copies)
    runs = [
        timed(f"{len(photos)} photos", cutout_command(folder, work / "few-out", args.model, 2),
              photos, work / "few-out", ours_output, env, work),
        timed(f"{len(many)} photos", cutout_command(many_folder, work / "many-out", args.model, 2),
              many, work / "many-out", ours_output, env, work),
    ]
    few, lots = runs
    kind = few.kind or lots.kind
    print(f"Memory flatness: ours --workers 2 on {describe(photos)}, then on {args.copies}x as many (copies)")
    print(f"Machine: {host}")
    print(f"  {kind} MB, per process{'':<18}{few.label:>12}{lots.label:>14}{'ratio':>8}")
    names = [name for name, _ in few.processes]
    names += [name for name, _ in lots.processes if name not in names]
    for name in names + ["worker", "all processes"]:
        a, b = ((run.total if name == "all processes" else run.peak(name)) for run in runs)
        label = "highest worker" if name == "worker" else name
        print(f"  {label:<44}{(a or 0) / MB:12.0f}{(b or 0) / MB:14.0f}{ratio(b, a):>8}")
    print(f"  {'photos ok':<44}{few.ok:12d}{lots.ok:14d}")
    print(f"  {'photos/min':<44}{few.per_minute:12.1f}{lots.per_minute:14.1f}"
          f"{ratio(lots.per_minute, few.per_minute):>8}")
    print_failures(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40, help="how many of the 40 photos (fewer: a quick run)")
    parser.add_argument("--model", default="isnet-int8", choices=sorted(load_specs()))
    parser.add_argument("--flat", action="store_true", help="memory flatness: --photos vs --copies times as many")
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args()
    model_file = REPO / "dist" / "models" / load_specs()[args.model].file
    host = machine()
    with tempfile.TemporaryDirectory(prefix="catalogue-") as work:
        work = Path(work)
        folder = work / "photos"
        folder.mkdir()
        photos = make_photos(folder, args.photos)
        if args.flat:
            flat(args, work, photos, folder, host)
        else:
            catalogue(args, work, photos, folder, model_file, host)


if __name__ == "__main__":
    sys.exit(main())
