"""The `cutout` command: cut out every photo given (files, or folders to any depth) with the
page's own pipeline and native onnxruntime, on this machine or a Dask cluster.

    cutout PHOTO_OR_FOLDER... --out DIR [--workers N | --scheduler tcp://HOST:PORT]
        [--format png|webp|jpeg|mask] [--background white|#rrggbb|blur|transparent]
        [--background-image FILE] [--shadow] [--frame photo|subject|square] [--size PX]
        [--margin PCT] [edge options] [--model isnet-int8|isnet-fp16] [--downscale]
        [--overwrite] [--report FILE.csv|.jsonl]

The output tree mirrors the input tree (`catalogue.plan_run`), with the page's file names
and formats and the same defaults. Photos whose output is already there are kept (a stopped
run goes on where it stopped); Ctrl+C stops at once, keeping every finished file and no
half-written one. The report lists every file found with its status, reason, timings and
output; the exit status is 0 when every photo was cut out, 1 when any failed, 2 for a usage
or model error and 130 when stopped. The results are the reference the browser is tested
against.

Imports: the standard library, tqdm, `app.core`, `app.runtime.ort_native`, `app.cli.*`.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

from app.cli import catalogue, runners, work
from app.cli.report import FORMATS as REPORT_FORMATS, Report
from app.cli.work import Outcome, Settings
from app.core import compose, export
from app.core.errors import ModelError
from app.core.options import Options
from app.core.spec import DEFAULT_MODEL, MANIFEST_PATH, ModelSpec, load_specs
from app.runtime.ort_native import DEFAULT_MODEL_DIR, verify_model_file

REPORT_NAME = "cutout-report.csv"       # in --out unless --report says otherwise
NAMED_BACKGROUNDS = {"transparent": None, "white": "#ffffff", "blur": None}
EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 1, 2, 130


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per `Options` field: --name/--no-name for switches, --name PX for numbers."""
    group = parser.add_argument_group("edge options (defaults as in the page)")
    for item in dataclasses.fields(Options):
        flag = "--" + item.name.replace("_", "-")
        if isinstance(item.default, bool):
            group.add_argument(flag, dest=item.name, action=argparse.BooleanOptionalAction, default=item.default)
        else:
            group.add_argument(flag, dest=item.name, type=float, default=item.default, metavar="PX")


def add_layout_flags(parser: argparse.ArgumentParser) -> None:
    """The page's export choices (`compose.Layout`, `export.FORMATS`), with its defaults."""
    default = compose.Layout()
    group = parser.add_argument_group("the file (as the page's export settings)")
    group.add_argument("--format", choices=list(export.FORMATS), default="png",
                       help="png, webp, jpeg or mask (black and white PNG); default png")
    group.add_argument("--background", default="transparent", metavar="transparent|white|blur|#RRGGBB",
                       help="behind the subject: transparent (default), white, a colour, or the photo blurred")
    group.add_argument("--background-image", type=Path, metavar="FILE",
                       help="a picture behind the subject, scaled to cover")
    group.add_argument("--shadow", action=argparse.BooleanOptionalAction, default=default.shadow,
                       help="a soft shadow under the subject")
    group.add_argument("--frame", choices=compose.FRAMES, default=default.frame,
                       help="photo: the photo's size (default); subject: cropped to the subject and margin; "
                            "square: a square of --size with the subject centred")
    group.add_argument("--size", type=int, default=default.size, metavar="PX",
                       help=f"the square's side (the page offers {', '.join(map(str, compose.SQUARE_SIZES))}; "
                            f"default {default.size})")
    group.add_argument("--margin", type=float, default=default.margin, metavar="PCT",
                       help=f"free space around the subject, percent (default {default.margin:g})")
    group.add_argument("--colour-profile", action=argparse.BooleanOptionalAction, default=True,
                       help="keep the photo's colour profile in the file (default: keep)")


def layout_from(args: argparse.Namespace) -> compose.Layout:
    if args.background_image is not None:
        background, colour = "image", compose.Layout().colour
    elif args.background in ("transparent", "blur"):
        background, colour = args.background, compose.Layout().colour
    else:
        background, colour = "colour", NAMED_BACKGROUNDS.get(args.background, args.background)
    return compose.Layout(background=background, colour=colour, shadow=args.shadow, frame=args.frame,
                          margin=args.margin, size=args.size)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cutout", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", nargs="+", type=Path, help="photo files or folders (walked to any depth)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the results (made if missing)")
    where = parser.add_argument_group("where the work runs").add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=1, metavar="N",
                       help="processes on this machine (a local Dask cluster when N > 1; each holds a model, "
                            "about 1.6 GB): more photos a minute where there are cores to spare; default 1")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="an existing Dask cluster's scheduler; its workers must see the photos, "
                            "--out and --model-dir at the same paths")
    run = parser.add_argument_group("the run")
    run.add_argument("--model", default=DEFAULT_MODEL, metavar="|".join(sorted(load_specs(MANIFEST_PATH)))
                     if MANIFEST_PATH.exists() else "NAME", help=f"the model (default {DEFAULT_MODEL})")
    run.add_argument("--model-dir", type=Path, metavar="DIR", default=Path(os.environ.get("CUTOUT_MODEL_DIR", DEFAULT_MODEL_DIR)),
                     help="where the model files are (default: the build's dist/models, or $CUTOUT_MODEL_DIR)")
    run.add_argument("--threads", type=int, default=None, metavar="N",
                     help="inference threads per process (default: the cores shared between the processes)")
    run.add_argument("--downscale", action="store_true",
                     help="downscale a photo over the size limit to fit, instead of failing it")
    run.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=Settings.mirror,
                     help="the model also looks at each photo's mirror image, the colours settling where the two "
                          "views disagree: better hair, fur and thin parts for twice the inference; "
                          "--no-mirror for speed (default: on)")
    run.add_argument("--overwrite", action="store_true",
                     help="make every file again (default: keep the ones already there)")
    run.add_argument("--report", type=Path, metavar="FILE",
                     help=f"the report, .csv or .jsonl (default: {REPORT_NAME} in --out)")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                     help="a progress bar when the terminal shows one; otherwise a line per photo")
    add_layout_flags(parser)
    add_option_flags(parser)
    return parser


def settings_from(args: argparse.Namespace, command: argparse.ArgumentParser) -> Settings:
    try:
        options = Options(**{item.name: getattr(args, item.name) for item in dataclasses.fields(Options)})
        layout = layout_from(args)
    except ValueError as exc:
        command.error(str(exc))
    if args.workers < 1:
        command.error("--workers must be 1 or more")
    if args.threads is not None and args.threads < 1:
        command.error("--threads must be 1 or more")
    args.report = args.report or args.out / REPORT_NAME
    if args.report.suffix.lower() not in REPORT_FORMATS:
        command.error(f"--report must end in {' or '.join(REPORT_FORMATS)}")
    return Settings(model=model_spec(args, command), model_dir=str(args.model_dir.absolute()), options=options, layout=layout,
                    fmt=args.format, keep_colour_profile=args.colour_profile, downscale=args.downscale,
                    mirror=args.mirror,
                    background_image=str(args.background_image.absolute()) if args.background_image else None,
                    threads=args.threads)


def model_spec(args: argparse.Namespace, command: argparse.ArgumentParser) -> ModelSpec:
    """The chosen model's spec: from this checkout's models/manifest.json, or, where the
    package was installed without it, from the manifest the build put beside the models."""
    manifest = MANIFEST_PATH if MANIFEST_PATH.exists() else args.model_dir / "manifest.json"
    if not manifest.exists():
        command.error(f"no models in {args.model_dir}: build them with `python3 build.py` in a Cutout "
                      "checkout and give its dist/models as --model-dir (or set CUTOUT_MODEL_DIR)")
    specs = load_specs(manifest)
    if args.model not in specs:
        command.error(f"argument --model: invalid choice: {args.model!r} "
                      f"(choose from {', '.join(repr(name) for name in sorted(specs))})")
    return specs[args.model]


def main(argv: list[str] | None = None) -> int:
    command = parser()
    args = command.parse_args(argv)
    settings = settings_from(args, command)
    try:
        if args.workers == 1 and not args.scheduler:
            work.session_for(settings)      # checked once and kept: the photos here use it
        elif not args.scheduler:            # a remote cluster's workers check it where they run
            verify_model_file(Path(settings.model_dir) / settings.model.file, settings.model)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    plan = catalogue.plan_run(args.photos, args.out, settings.fmt)
    args.out.mkdir(parents=True, exist_ok=True)
    for leftover in catalogue.leftover_partials(args.out):
        leftover.unlink(missing_ok=True)
    with Report(args.report) as report:
        return Run(plan, settings, report, args).go()


class Run:
    """One run: what is already there is kept, the rest cut out here or on a cluster; every
    outcome goes to the report and the screen; Ctrl+C stops it cleanly."""

    def __init__(self, plan: catalogue.Plan, settings: Settings, report: Report, args: argparse.Namespace):
        self.plan, self.settings, self.report, self.args = plan, settings, report, args
        self.counts = {"done": 0, "failed": 0, "kept": 0}
        self.bar = None

    def go(self) -> int:
        todo = []
        for photo in self.plan.photos:
            if not self.args.overwrite and _complete(photo.output):
                self._record(photo, Outcome(str(photo.source), str(photo.output), "kept"))
            else:
                todo.append(photo)
        for path in self.plan.not_photos:
            self.report.add(Outcome(str(path), "", "not a photo", reason=f"Not a photo ({path.suffix or 'no suffix'})."))
        started, began = time.perf_counter(), time.time()
        finished: set[Path] = set()
        stopped = False
        try:
            for photo, outcome in self._outcomes(todo):
                finished.add(photo.source)
                self._record(photo, outcome)
        except KeyboardInterrupt:
            stopped = True
        finally:
            if self.bar is not None:
                self.bar.close()
        not_done = 0
        for photo in todo:
            if photo.source in finished:
                continue
            if _complete(photo.output, since=began):      # its worker finished as the run stopped
                self._record(photo, Outcome(str(photo.source), str(photo.output), "done",
                                            notes=("Finished as the run stopped; its times are not known.",)))
            else:
                not_done += 1
                self.report.add(Outcome(str(photo.source), str(photo.output), "not done",
                                        reason="The run was stopped first."))
        if stopped:                           # a killed worker may have left its partial file
            for leftover in catalogue.leftover_partials(self.args.out):
                leftover.unlink(missing_ok=True)
        self._summary(not_done, time.perf_counter() - started)
        if stopped:
            return EXIT_STOPPED
        return EXIT_FAILED if self.counts["failed"] else 0

    def _outcomes(self, todo: list[catalogue.Photo]):
        """(photo, outcome) pairs as photos finish, with the progress bar set up."""
        by_source = {str(photo.source.absolute()): photo for photo in todo}
        if not todo:
            return
        if self.args.workers == 1 and not self.args.scheduler:
            self._start_bar(len(todo), "on this machine, one photo at a time")
            for outcome in runners.run_here(todo, self.settings):
                yield by_source[outcome.source], outcome
            return
        self._say("Starting the workers..." if not self.args.scheduler else f"Connecting to {self.args.scheduler}...")
        with runners.dask_client(self.args.workers, self.args.scheduler) as client:
            self._start_bar(len(todo), runners.describe(client))
            for outcome in runners.run_on_cluster(client, todo, self.settings):
                yield by_source[outcome.source], outcome

    def _start_bar(self, total: int, where: str) -> None:
        kept = self.counts["kept"]
        self._say(f"{total} photo{'s' * (total != 1)} to cut out ({where})"
                  + (f"; {kept} already there, kept" if kept else "") + ".")
        if self.args.progress and sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="photo", dynamic_ncols=True, smoothing=0.1)

    def _record(self, photo: catalogue.Photo, outcome: Outcome) -> None:
        outcome = dataclasses.replace(outcome, source=str(photo.source), output=str(photo.output))
        self.counts[outcome.status] += 1
        self.report.add(outcome)
        if outcome.status == "kept":
            return
        if outcome.status == "failed":
            self._say(f"{photo.source}: failed: {outcome.reason}", error=True)
        elif self.bar is None:
            stages = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in outcome.stages.items())
            self._say(f"{photo.source} -> {photo.output}" + (f" ({outcome.seconds:.1f}s: {stages})" if stages else ""))
        for note in outcome.notes:
            self._say(f"{photo.source}: note: {note}")
        if self.bar is not None:
            self.bar.update(1)

    def _say(self, line: str, error: bool = False) -> None:
        stream = sys.stderr if error else sys.stdout
        if self.bar is not None:
            self.bar.write(line, file=stream)
        else:
            print(line, file=stream, flush=True)

    def _summary(self, not_done: int, seconds: float) -> None:
        counts = self.counts
        parts = [f"{counts['done']} cut out"]
        if counts["failed"]:
            parts.append(f"{counts['failed']} failed")
        if counts["kept"]:
            parts.append(f"{counts['kept']} already there")
        if not_done:
            parts.append(f"{not_done} not done (stopped; run the same command again to go on)")
        if self.plan.not_photos:
            others = len(self.plan.not_photos)
            parts.append(f"{others} file{'s' * (others != 1)} not {'a photo' if others == 1 else 'photos'}, left alone")
        rate = f" in {_duration(seconds)}" + (f", {counts['done'] / seconds * 60:.1f} photos a minute"
                                             if counts["done"] and seconds > 0 else "")
        self._say(", ".join(parts) + rate + f". Report: {self.report.path}", error=bool(counts["failed"] or not_done))


def _complete(output: Path, since: float = 0.0) -> bool:
    """Whether a finished file is at `output` (put there since `since`, a time.time()):
    files are only ever renamed into place whole, so one that exists and is not empty is
    complete."""
    try:
        stat = output.stat()
    except OSError:
        return False
    return stat.st_size > 0 and stat.st_mtime >= since - 1      # a second for coarse file times


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
