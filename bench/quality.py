"""Cutout quality on real ground truth: the raw model against our full post-processing.

    python bench/quality.py [DIR] [--model-dir dist/models] [--models isnet-fp16,isnet-uint8]
                            [--set feather=1 --set decontaminate=false ...] [--save OUT]
                            [--timing-only | --no-timing]

DIR has the layout of `../shared/devset` (`<category>/<name>.jpg` + `<name>.gt.png`,
`manifest.json` giving each pair's `gt_type`). For each model it prints, per category
and overall, the SOD metrics (MAE, max F, weighted F, S, mean E; `pysodmetrics`, ground
truth thresholded at 128), plain MAE against the unthresholded matte and, on soft-alpha
pairs, SAD, MSE (x1000) and gradient error (see bench/metrics.py), for

    raw    the reference post-processing: min-max normalise, bilinear upscale
    ours   `app.core.pipeline._postprocess` with `Options()` (plus any --set)

then checks the targets of issue 3 and times every post-processing stage on synthetic
1, 12 and 24 MP upscales of a devset photo. Model outputs are cached in bench/out/masks.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devset import DEFAULT_DEVSET, DEFAULT_MODEL_DIR, OUT, MaskCache, load_pairs, parse_options  # noqa: E402
from metrics import MATTE_KEYS, SOD_KEYS, SodScores, matte_errors  # noqa: E402

from app.core import pipeline, postprocess  # noqa: E402
from app.core.spec import get_spec  # noqa: E402

MODELS = ("isnet-fp16", "isnet-uint8")
TARGET_CATEGORIES = ("hair_soft", "fur_soft")


def raw_alpha(image: Image.Image, raw: np.ndarray) -> np.ndarray:
    """Today's reference post-processing: min-max normalise, bilinear upscale."""
    return postprocess.upscale_mask(postprocess.normalise_mask(raw), image.size)


def our_rgba(image: Image.Image, raw: np.ndarray, options) -> Image.Image:
    rgba, _ = pipeline._postprocess(image, raw, options)
    return rgba


def evaluate(pairs, cache: MaskCache, options, save: Path | None):
    """{method: {group: {metric: value}}} for methods raw/ours over categories and 'overall'."""
    sod = {m: defaultdict(SodScores) for m in ("raw", "ours")}
    matte = {m: defaultdict(lambda: defaultdict(list)) for m in ("raw", "ours")}
    for pair in pairs:
        image, gt = pair.load()
        raw = cache.raw(pair.photo, image)
        rgba = our_rgba(image, raw, options)
        alphas = {"raw": raw_alpha(image, raw), "ours": np.asarray(rgba.getchannel("A"))}
        for method, alpha in alphas.items():
            errors = matte_errors(alpha, gt)
            for group in (pair.category, "overall"):
                sod[method][group].add(alpha, gt)
                matte[method][group]["pMAE"].append(errors["pMAE"])
                if pair.gt_type == "alpha":
                    for key in ("SAD", "MSE", "Grad"):
                        matte[method][group][key].append(errors[key])
            if save is not None:
                folder = save / cache.spec.name
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(alpha).save(folder / f"{pair.name}.{method}.png")
        if save is not None:
            rgba.save(save / cache.spec.name / f"{pair.name}.ours.rgba.png")
    results = {}
    for method in ("raw", "ours"):
        results[method] = {}
        for group, scores in sod[method].items():
            row = {"n": scores.count, **scores.results()}
            for key, values in matte[method][group].items():
                row[key] = float(np.mean(values))
            results[method][group] = row
    return results


def print_table(model: str, results) -> None:
    keys = SOD_KEYS + MATTE_KEYS
    groups = [g for g in results["raw"] if g != "overall"] + ["overall"]
    print(f"\n## {model}: raw (bilinear upscale) vs ours (full pipeline)")
    print(f"{'category':<11} {'n':>2} {'method':<6}" + "".join(f"{k:>8}" for k in keys))
    for group in groups:
        for method in ("raw", "ours"):
            row = results[method][group]
            cells = "".join(
                f"{row[k]:>8.4f}" if k in row and k not in ("SAD", "Grad", "MSE")
                else (f"{row[k]:>8.2f}" if k in row else f"{'-':>8}")
                for k in keys
            )
            label = group if method == "raw" else ""
            print(f"{label:<11} {row['n']:>2} {method:<6}{cells}")


def check_targets(model: str, results, pairs) -> list[str]:
    """The issue's targets; returns the failures."""
    failures = []
    per_pair = [p for p in pairs if p.category in TARGET_CATEGORIES and p.gt_type == "alpha"]
    if per_pair:
        def mean_over(method, key):
            groups = [results[method][c] for c in TARGET_CATEGORIES if c in results[method]]
            counts = [g["n"] for g in groups]
            return sum(g[key] * n for g, n in zip(groups, counts)) / sum(counts)

        for key, wanted in (("SAD", 0.20), ("Grad", 0.40)):
            before, after = mean_over("raw", key), mean_over("ours", key)
            gain = 1 - after / before
            ok = gain >= wanted
            print(f"  hair+fur {key}: {before:.2f} -> {after:.2f} ({gain:+.0%} lower; target >= {wanted:.0%}) "
                  f"{'ok' if ok else 'MISSED'}")
            if not ok:
                failures.append(f"{model} hair+fur {key}")
    before, after = results["raw"]["overall"]["pMAE"], results["ours"]["overall"]["pMAE"]
    ok = after < before
    print(f"  overall plain MAE: {before:.4f} -> {after:.4f} {'ok' if ok else 'MISSED'}")
    if not ok:
        failures.append(f"{model} overall pMAE")
    worse = [g for g in results["raw"] if g != "overall"
             and results["ours"][g]["pMAE"] > results["raw"][g]["pMAE"] + 1e-5]
    print(f"  categories with worse plain MAE: {', '.join(worse) or 'none'}")
    failures += [f"{model} {g} worse" for g in worse]
    return failures


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one Options field for 'ours'")
    parser.add_argument("--save", type=Path, nargs="?", const=OUT / "cutouts", default=None,
                        help="write every alpha and our RGBA cutouts (default bench/out/cutouts)")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--timing-only", action="store_true")
    parser.add_argument("--repeats", type=int, default=1, help="timing repeats (best is kept)")
    args = parser.parse_args(argv)

    options = parse_options(args.set)
    pairs = load_pairs(args.dir)
    if not pairs:
        raise SystemExit(f"no <name>.jpg + <name>.gt.png pairs under {args.dir}")
    print(f"{len(pairs)} pairs from {args.dir}; options: {options}")
    failures = []
    caches = [MaskCache(get_spec(name), args.model_dir) for name in args.models.split(",")]
    if not args.timing_only:
        for cache in caches:
            results = evaluate(pairs, cache, options, args.save)
            print_table(cache.spec.name, results)
            failures += check_targets(cache.spec.name, results, pairs)
    if not args.no_timing:
        time_stages(pairs, caches[0], options, repeats=args.repeats)
    if failures:
        print(f"\ntargets missed: {'; '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
