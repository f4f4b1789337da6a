"""Cutout quality on real ground truth: the raw model against our full post-processing.

    python bench/quality.py [DIR] [--model-dir dist/models] [--models isnet-fp16,isnet-int8]
                            [--model-file PATH ...]
                            [--scales devset,12mp] [--set feather=1 --set decontaminate=false ...]
                            [--save OUT] [--allow-unchecked] [--timing-only | --no-timing]

--models takes manifest names, or `name@SIDE` for that model run on a SIDE x SIDE
input instead of its own size (`devset.model_spec`; e.g. isnet-int8@832). --model-file
adds a model that is not in the manifest (e.g. the static int8 model that
builder/quantize_model.py makes), with isnet-fp16's input and normalisation; it is named
after its file. DIR has the layout of `../shared/devset` (`<category>/<name>.jpg` + `<name>.gt.png`,
`manifest.json` giving each pair's `gt_type`). For each scale and model it prints, per
category and overall, the SOD metrics (MAE, max F, weighted F, S, mean E; `pysodmetrics`,
ground truth thresholded at 128) and plain MAE against the unthresholded matte over all
`n` pairs, and SAD, MSE (x1000) and gradient error (see bench/metrics.py) averaged over
the `soft` pairs, those with soft-alpha ground truth (the only ones these metrics cover), for

    raw    the reference post-processing: min-max normalise, bilinear upscale
    ours   `app.core.pipeline._postprocess` with `Options()` (plus any --set)

Scales (`--scales`, default both):

    devset  the photos as they are (481-1120 px long side: the matte is solved at 2/3
            of the photo, the colours at that same working size)
    12mp    every pair enlarged to 12 MP, photo and ground truth with the same Lanczos
            filter (bench/photoscale.py, which explains the method and its limits): the
            camera-photo paths, a 1024 px working resolution and half-size colours
            (about 7-11 minutes per model on a busy 2-core machine, masks cached)

At each scale it checks the targets of issue 3: hair+fur SAD at least 20 % and gradient
error at least 40 % lower than raw (means over the hair/fur soft-alpha pairs themselves),
overall plain MAE lower than raw, and no category's plain MAE worse. A target that cannot
be evaluated (e.g. DIR has no soft mattes in hair/fur) is printed NOT CHECKED with the
reason, never skipped. Exit status: 1 if any target is missed; otherwise 2 if any was not
checked (0 with --allow-unchecked, which says that is expected); otherwise 0.

Then it times every post-processing stage on synthetic 1, 12 and 24 MP upscales of a
devset photo. Model outputs are cached in bench/out/masks (enlarged photos by content).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import photoscale  # noqa: E402
from devset import (DEFAULT_DEVSET, DEFAULT_MODEL_DIR, OUT, MaskCache, Pair, file_spec, load_pairs, model_spec,  # noqa: E402
                    parse_options)
from metrics import MATTE_KEYS, SOD_KEYS, SodScores, gradient_magnitude, matte_errors, plain_mae, sod_image  # noqa: E402

from app.core import pipeline, postprocess  # noqa: E402

MODELS = ("isnet-fp16", "isnet-int8")
TARGET_CATEGORIES = ("hair_soft", "fur_soft")
METHODS = ("raw", "ours")
SOFT_KEYS = ("SAD", "MSE", "Grad")        # need a soft matte: averaged over soft-alpha pairs only


def raw_alpha(image: Image.Image, raw: np.ndarray) -> np.ndarray:
    """Today's reference post-processing: min-max normalise, bilinear upscale."""
    return postprocess.upscale_mask(postprocess.normalise_mask(raw), image.size)


def our_rgba(image: Image.Image, raw: np.ndarray, options) -> Image.Image:
    rgba, _ = pipeline._postprocess(image, raw, options)
    return rgba


@dataclass
class Measured:
    """One pair's errors at one scale: {method: matte_errors(...)}."""

    pair: Pair
    errors: dict[str, dict[str, float]]

    @property
    def soft(self) -> bool:
        return self.pair.gt_type == "alpha"


def load_scaled(pair: Pair, cache: MaskCache, megapixels: float | None):
    """(photo, ground truth, raw model output) at devset scale (None) or enlarged to
    `megapixels` (bench/photoscale.py); the model runs on the photo as measured."""
    image, gt = pair.load()
    if megapixels is None:
        return image, gt, cache.raw(pair.photo, image)
    image, gt = photoscale.enlarge(image, gt, pair.gt_type, megapixels)
    return image, gt, cache.raw_image(image)


def evaluate(pairs, cache: MaskCache, options, save: Path | None, megapixels: float | None = None):
    """({method: {group: row}}, [Measured per pair]) for methods raw/ours over the categories
    and 'overall'. A row has the SOD metrics and pMAE over its `n` pairs, and SAD, MSE and
    Grad as means over its `n_soft` soft-alpha pairs only (absent when there are none)."""
    sod = {m: defaultdict(SodScores) for m in METHODS}
    measured = []
    for pair in pairs:
        image, gt, raw = load_scaled(pair, cache, megapixels)
        rgba = our_rgba(image, raw, options)
        alphas = {"raw": raw_alpha(image, raw), "ours": np.asarray(rgba.getchannel("A"))}
        soft = pair.gt_type == "alpha"
        gt_gradient = gradient_magnitude(gt / 255.0) if soft else None
        errors = {}
        for method, alpha in alphas.items():
            # SAD, MSE and Grad need a soft matte; a binary mask only gets plain MAE.
            errors[method] = matte_errors(alpha, gt, gt_gradient) if soft else {"pMAE": plain_mae(alpha, gt)}
            scored = sod_image(alpha, gt)
            for group in (pair.category, "overall"):
                sod[method][group].add_scored(scored)
            if save is not None:
                folder = save / cache.spec.name
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(alpha).save(folder / f"{pair.name}.{method}.png")
        if save is not None:
            rgba.save(save / cache.spec.name / f"{pair.name}.ours.rgba.png")
        measured.append(Measured(pair, errors))
        del image, gt, raw, rgba, alphas
    results = {}
    for method in METHODS:
        results[method] = {}
        for group, scores in sod[method].items():
            members = [m for m in measured if group in ("overall", m.pair.category)]
            soft = [m for m in members if m.soft]
            row = {"n": scores.count, "n_soft": len(soft), **scores.results()}
            row["pMAE"] = float(np.mean([m.errors[method]["pMAE"] for m in members]))
            for key in SOFT_KEYS:
                if soft:
                    row[key] = float(np.mean([m.errors[method][key] for m in soft]))
            results[method][group] = row
    return results, measured


def print_table(title: str, results) -> None:
    keys = SOD_KEYS + MATTE_KEYS
    groups = [g for g in results["raw"] if g != "overall"] + ["overall"]
    print(f"\n## {title}: raw (bilinear upscale) vs ours (full pipeline)")
    print("   n: pairs (SOD metrics, pMAE); soft: soft-alpha pairs, the only ones SAD, MSE and Grad "
          "average over ('-': none)")
    print(f"{'category':<11} {'n':>2} {'soft':>4} {'method':<6}" + "".join(f"{k:>8}" for k in keys))
    for group in groups:
        for method in METHODS:
            row = results[method][group]
            cells = "".join(
                f"{row[k]:>8.4f}" if k in row and k not in SOFT_KEYS
                else (f"{row[k]:>8.2f}" if k in row else f"{'-':>8}")
                for k in keys
            )
            label = group if method == "raw" else ""
            print(f"{label:<11} {row['n']:>2} {row['n_soft']:>4} {method:<6}{cells}")


def check_targets(label: str, results, measured: list[Measured]) -> dict[str, str]:
    """The targets of issue 3 at one scale: {target: 'ok' | 'MISSED' | 'NOT CHECKED'}, each
    printed with its figures, or with why it could not be evaluated."""
    outcome = {}
    print(f"  targets [{label}]")
    in_target = [m for m in measured if m.pair.category in TARGET_CATEGORIES]
    soft = [m for m in in_target if m.soft]
    for key, wanted in (("SAD", 0.20), ("Grad", 0.40)):
        name = f"hair+fur {key} >= {wanted:.0%} lower"
        if not soft:
            why = (f"no {' or '.join(TARGET_CATEGORIES)} pairs" if not in_target else
                   f"the {len(in_target)} hair/fur pair(s) have no soft-alpha ground truth")
            print(f"  hair+fur {key}: NOT CHECKED ({why}; it needs soft mattes)")
            outcome[name] = "NOT CHECKED"
            continue
        # The mean over exactly the pairs the metric covers, never re-weighted by category counts.
        before = float(np.mean([m.errors["raw"][key] for m in soft]))
        after = float(np.mean([m.errors["ours"][key] for m in soft]))
        if before <= 0:
            print(f"  hair+fur {key}: NOT CHECKED (raw {key} is {before:.2f}: no relative gain to measure)")
            outcome[name] = "NOT CHECKED"
            continue
        gain = 1 - after / before
        outcome[name] = "ok" if gain >= wanted else "MISSED"
        print(f"  hair+fur {key} over {len(soft)} soft-alpha pairs: {before:.2f} -> {after:.2f} "
              f"({gain:.1%} lower; target >= {wanted:.0%}) {outcome[name]}")
    before, after = results["raw"]["overall"]["pMAE"], results["ours"]["overall"]["pMAE"]
    outcome["overall pMAE lower"] = "ok" if after < before else "MISSED"
    print(f"  overall plain MAE over {results['raw']['overall']['n']} pairs: {before:.4f} -> {after:.4f} "
          f"{outcome['overall pMAE lower']}")
    categories = [g for g in results["raw"] if g != "overall"]
    worse = [g for g in categories if results["ours"][g]["pMAE"] > results["raw"][g]["pMAE"] + 1e-5]
    outcome["no category worse"] = "MISSED" if worse else "ok"
    print(f"  categories with worse plain MAE (of {len(categories)}): {', '.join(worse) or 'none'} "
          f"{outcome['no category worse']}")
    return outcome


def time_stages(pairs, cache: MaskCache, options, megapixels=(1, 12, 24), repeats=1) -> None:
    """Seconds per post-processing stage on synthetic upscales of one devset photo."""
    from app.core import refine

    pair = next((p for p in pairs if p.category in TARGET_CATEGORIES), pairs[0])
    photo, _ = pair.load()
    raw = cache.raw(pair.photo, photo)
    mask = postprocess.normalise_mask(raw)
    print(f"\n## post-processing time per stage (s), synthetic upscales of {pair.name}, "
          f"{cache.spec.name} mask; native CPython, best of {repeats}")
    rows = []
    for mp in megapixels:
        scale = (mp * 1e6 / (photo.width * photo.height)) ** 0.5
        image = photo.resize((round(photo.width * scale), round(photo.height * scale)),
                             Image.Resampling.BICUBIC)
        best_raw, best = float("inf"), None
        for _ in range(repeats):
            started = time.perf_counter()
            postprocess.compose_rgba(image, postprocess.upscale_mask(mask, image.size))
            best_raw = min(best_raw, time.perf_counter() - started)
            timings: dict[str, float] = {}
            started = time.perf_counter()
            refine.refine(image, mask, options, timings=timings)
            timings["total"] = time.perf_counter() - started
            if best is None or timings["total"] < best["total"]:
                best = timings
        rows.append((f"{image.width}x{image.height}", best_raw, best))
    stages = list(rows[0][2])
    print(f"{'size':<11}{'raw':>8}" + "".join(f"{s:>13}" for s in stages))
    for size, raw_time, timings in rows:
        print(f"{size:<11}{raw_time:>8.3f}" + "".join(f"{timings.get(s, 0):>13.3f}" for s in stages))


def parse_scales(text: str) -> list[tuple[str, float | None]]:
    """'devset,12mp' -> [('devset', None), ('12 MP', 12.0)]."""
    scales = []
    for word in filter(None, (w.strip().lower() for w in text.split(","))):
        if word == "devset":
            scales.append(("devset", None))
        elif word.endswith("mp"):
            try:
                megapixels = float(word[:-2])
            except ValueError:
                megapixels = 0
            if megapixels <= 0:
                raise SystemExit(f"--scales: {word!r} is not a size like 12mp")
            scales.append((f"{megapixels:g} MP", megapixels))
        else:
            raise SystemExit(f"--scales: {word!r} is neither 'devset' nor a size like 12mp")
    if not scales:
        raise SystemExit("--scales: no scale given")
    return scales


def scale_title(model: str, scale: str, megapixels: float | None) -> str:
    if megapixels is None:
        return f"{model}, devset scale (photos as they are, 481-1120 px long side)"
    return f"{model}, {scale} (devset pairs enlarged with Lanczos, photo and truth; bench/photoscale.py)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--models", default=",".join(MODELS),
                        help="manifest models, comma-separated ('' for none)")
    parser.add_argument("--model-file", type=Path, action="append", default=[], metavar="PATH",
                        help="also a model file outside the manifest (isnet-fp16's input and "
                             "normalisation), named after the file; may be repeated")
    parser.add_argument("--scales", default="devset,12mp",
                        help="comma-separated: 'devset' (photos as they are) and/or sizes like '12mp' "
                             "(every pair enlarged to that many megapixels); default devset,12mp")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one Options field for 'ours'")
    parser.add_argument("--save", type=Path, nargs="?", const=OUT / "cutouts", default=None,
                        help="write every alpha and our RGBA cutouts (default bench/out/cutouts/<scale>)")
    parser.add_argument("--allow-unchecked", action="store_true",
                        help="targets that cannot be evaluated (e.g. no soft mattes in DIR) are expected: "
                             "still reported NOT CHECKED, but they do not set exit status 2")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--timing-only", action="store_true")
    parser.add_argument("--repeats", type=int, default=1, help="timing repeats (best is kept)")
    args = parser.parse_args(argv)

    options = parse_options(args.set)
    scales = parse_scales(args.scales)
    pairs = load_pairs(args.dir)
    if not pairs:
        raise SystemExit(f"no <name>.jpg + <name>.gt.png pairs under {args.dir}")
    print(f"{len(pairs)} pairs from {args.dir} ({sum(p.gt_type == 'alpha' for p in pairs)} with soft-alpha "
          f"ground truth); scales: {', '.join(name for name, _ in scales)}; options: {options}")
    caches = [MaskCache(model_spec(name), args.model_dir) for name in args.models.split(",") if name]
    caches += [MaskCache(file_spec(path), path.parent) for path in args.model_file]
    if not caches:
        raise SystemExit("no model: give --models and/or --model-file")
    summary: dict[tuple[str, str], dict[str, str]] = {}
    if not args.timing_only:
        for scale, megapixels in scales:
            for cache in caches:
                started = time.perf_counter()
                save = None if args.save is None else args.save / scale.replace(" ", "").lower()
                results, measured = evaluate(pairs, cache, options, save, megapixels)
                print_table(scale_title(cache.spec.name, scale, megapixels), results)
                label = f"{cache.spec.name} @ {scale}"
                summary[(cache.spec.name, scale)] = check_targets(label, results, measured)
                print(f"  ({time.perf_counter() - started:.0f} s)")
    if not args.no_timing:
        time_stages(pairs, caches[0], options, repeats=args.repeats)
    if args.timing_only:
        print("\nquality targets: not evaluated (--timing-only)")
        return 0
    return report(summary, args.allow_unchecked)


def report(summary: dict[tuple[str, str], dict[str, str]], allow_unchecked: bool) -> int:
    """Print every target's outcome per model and scale; the exit status: 1 when any target
    was missed, else 2 when any could not be checked (unless that is allowed), else 0."""
    targets = list(next(iter(summary.values())))
    print("\n## targets (hair+fur over soft-alpha pairs; raw = bilinear upscale)")
    widths = [max(len(t), 11) + 2 for t in targets]
    print(f"{'model':<13}{'scale':<9}" + "".join(f"{t:>{w}}" for t, w in zip(targets, widths)))
    for (model, scale), outcome in summary.items():
        print(f"{model:<13}{scale:<9}" + "".join(f"{outcome[t]:>{w}}" for t, w in zip(targets, widths)))
    missed = [f"{m} @ {s}: {t}" for (m, s), o in summary.items() for t, v in o.items() if v == "MISSED"]
    unchecked = [f"{m} @ {s}: {t}" for (m, s), o in summary.items() for t, v in o.items() if v == "NOT CHECKED"]
    if unchecked:
        print(f"\nNOT CHECKED ({'allowed by --allow-unchecked' if allow_unchecked else 'this is not a pass'}): "
              f"{'; '.join(unchecked)}")
    if missed:
        print(f"\ntargets MISSED: {'; '.join(missed)}")
        return 1
    if unchecked and not allow_unchecked:
        return 2
    print("\nall targets checked and met" if not unchecked else "\nevery checked target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
