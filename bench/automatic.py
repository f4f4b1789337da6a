"""The automatic cutout against the raw model, on data nobody tuned on: the devset beside
composites and drawn subjects (bench/synth.py), per category.

    python bench/automatic.py [--sets devset,composites,generated] [--model isnet-int8]
                              [--per-subject 12] [--generated 60] [--variants ours,mirror] [--set key=value]

Rows per set and category, means over its photos:

    raw     the model's mask upscaled the reference way (bilinear), nothing else
    ours    `pipeline._postprocess` with `Options()` (plus --set): one look, what the page and
            `cutout --no-mirror` give
    mirror  ours on the model's masks for the photo and for its mirror image (test-time
            augmentation) merged by `app.core.mirror.merge` before post-processing (where
            they disagree, the view the photo's colours side with): what `cutout` gives
    flip*   the same with other merges (MERGES), for comparison: flip the mean,
            fliplogit the mean of log-odds, flipmax the more confident at each pixel,
            flipgate the mean where the two agree (within 0.3 over 9 x 9 pixels) and
            the photo's own mask where they do not

and the columns plain MAE (against the unthresholded truth), SAD / 1000 and gradient error
over the soft-alpha photos of the row (bench/metrics.matte_errors), IoU at 0.5, and each
variant's plain MAE against raw's. "worse" lists the categories where a variant's plain MAE
is above raw's by more than 0.005. Masks are cached (bench/devset.MaskCache), the mirror
image's too, so a rerun costs only post-processing.

Limits: composites repeat the devset's subjects; drawn subjects are cleaner than photos
(see bench/synth.py). Judge a change by all three sets, never by the devset alone.

Imports: NumPy, SciPy, Pillow, pysodmetrics (bench/metrics.py), `app`; bench/devset.py,
bench/synth.py.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devset import DEFAULT_DEVSET, DEFAULT_MODEL_DIR, MaskCache, load_pairs, model_spec, parse_options  # noqa: E402
from metrics import matte_errors  # noqa: E402

from app.core import mirror, pipeline, postprocess, preprocess  # noqa: E402
from app.core.filters import box  # noqa: E402

WORSE = 0.005


def flipped_raw(cache: MaskCache, image: Image.Image) -> np.ndarray:
    """The model's output for the mirror image of `image`, mirrored back."""
    return mirror.flip(cache.raw_image(ImageOps.mirror(image)))


def photos(name: str, args):
    """(name, category, RGB photo, uint8 truth, gt_type, raw output or a function of the cache)."""
    if name == "devset":
        for pair in load_pairs(args.devset):
            photo, truth = pair.load()
            yield pair.name, pair.category, photo, truth, pair.gt_type, lambda cache, p=pair, i=photo: cache.raw(p.photo, i)
        return
    import synth

    samples = (synth.devset_composites(per_subject=args.per_subject, devset=args.devset) if name == "composites"
               else synth.generated(count=args.generated))
    for sample in samples:
        photo, truth = sample.make()
        yield sample.name, sample.category, photo, truth, sample.gt_type, lambda cache, i=photo: cache.raw_image(i)


def alphas(photo: Image.Image, raw: np.ndarray, flipped, options, variants, spec) -> dict[str, np.ndarray]:
    out = {"raw": postprocess.upscale_mask(postprocess.normalise_mask(raw), photo.size)}
    if "ours" in variants:
        out["ours"] = np.asarray(pipeline._postprocess(photo, raw, options)[0].getchannel("A"))
    merges = [name for name in variants if name.startswith("flip") or name == "mirror"]
    if merges:
        own, other = postprocess.normalise_mask(raw), postprocess.normalise_mask(flipped())
    for name in merges:
        if name == "mirror":        # as `pipeline.remove_background(mirror=True)` merges
            merged = mirror.merge(preprocess.colours_of(preprocess.to_tensor(photo, spec), spec), own, other)
        else:
            merged = MERGES[name](own, other)
        out[name] = np.asarray(pipeline._postprocess(photo, merged[None, None], options)[0].getchannel("A"))
    return out


def _logit(p):
    p = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _gated(a, b, width=0.3):
    """The mean where the two agree to within `width`, the photo's own mask where they do not."""
    disagree = box(np.abs(a - b).astype(np.float32), 4) > width
    return np.where(disagree, a, (a + b) / 2)


MERGES = {
    "flip": lambda a, b: (a + b) / 2,
    "flipgate": _gated,
    "fliplogit": lambda a, b: 1 / (1 + np.exp(-(_logit(a) + _logit(b)) / 2)),
    "flipmax": lambda a, b: np.where(np.abs(a - 0.5) >= np.abs(b - 0.5), a, b),
}


def score(alpha8: np.ndarray, truth8: np.ndarray, soft: bool) -> dict:
    fore, truth = alpha8 >= 128, truth8 >= 128
    union = np.count_nonzero(fore | truth)
    errors = matte_errors(alpha8, truth8) if soft else {"pMAE": float(np.abs(alpha8.astype(np.float64) - truth8).mean() / 255)}
    errors["IoU"] = float(np.count_nonzero(fore & truth) / union) if union else 1.0
    return errors


def report(title: str, rows: list[dict], variants) -> None:
    print(f"\n## {title}: {len(rows)} photos ({sum(r['soft'] for r in rows)} with soft truth)")
    names = ["raw"] + [v for v in variants]
    print(f"{'category':<18}{'n':>4}" + "".join(f"{n + ' pMAE':>12}" for n in names)
          + "".join(f"{n + ' SAD':>10}" for n in names) + "".join(f"{n + ' Grad':>11}" for n in names)
          + "".join(f"{n + ' IoU':>10}" for n in names))
    groups = defaultdict(list)
    for row in rows:
        groups[row["category"]].append(row)
    groups["all"] = rows
    worse = defaultdict(list)
    for category, members in groups.items():
        soft = [r for r in members if r["soft"]]
        mean = lambda key, n, group: np.mean([r[n][key] for r in group]) if group else float("nan")
        line = f"{category[:17]:<18}{len(members):>4}"
        line += "".join(f"{mean('pMAE', n, members):>12.4f}" for n in names)
        line += "".join(f"{mean('SAD', n, soft):>10.2f}" for n in names)
        line += "".join(f"{mean('Grad', n, soft):>11.2f}" for n in names)
        line += "".join(f"{mean('IoU', n, members):>10.3f}" for n in names)
        print(line)
        for n in variants:
            if category != "all" and mean("pMAE", n, members) > mean("pMAE", "raw", members) + WORSE:
                worse[n].append(category)
    for n in variants:
        ratio = np.mean([r[n]["pMAE"] for r in rows]) / max(np.mean([r["raw"]["pMAE"] for r in rows]), 1e-9)
        print(f"{n}: plain MAE {ratio:.3f}x raw; categories worse than raw by more than {WORSE}: "
              f"{', '.join(worse[n]) or 'none'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="devset,composites,generated")
    parser.add_argument("--model", default="isnet-int8")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--per-subject", type=int, default=12)
    parser.add_argument("--generated", type=int, default=60)
    parser.add_argument("--variants", default="ours,mirror", help="ours, mirror and any of " + ",".join(MERGES))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--only", default="", help="only photos whose category contains this")
    args = parser.parse_args(argv)
    options = parse_options(args.set)
    variants = [v for v in args.variants.split(",") if v]
    cache = MaskCache(model_spec(args.model), args.model_dir)
    for name in filter(None, args.sets.split(",")):
        started = time.perf_counter()
        rows = []
        for title, category, photo, truth, gt_type, raw_of in photos(name, args):
            if args.only not in category:
                continue
            raw = raw_of(cache)
            found = alphas(photo, raw, lambda p=photo: flipped_raw(cache, p), options, variants, cache.spec)
            soft = gt_type == "alpha"
            rows.append({"name": title, "category": category, "soft": soft,
                         **{n: score(a, truth, soft) for n, a in found.items()}})
        report(f"{name} ({args.model}, {time.perf_counter() - started:.0f} s)", rows, variants)
    return 0


if __name__ == "__main__":
    sys.exit(main())
