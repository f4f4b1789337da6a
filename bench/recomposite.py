"""The 8-bit model against the 16-bit one on photos the models were not tuned on: devset
subjects pasted on new backgrounds, where the truth is known.

    python bench/recomposite.py [DIR] [--model-dir dist/models] [--models isnet-int8,isnet-fp16]
                                [--kinds gradient,texture,scene,solid] [--seed 20261202]
                                [--set feather=1 ...] [--save OUT]

What it is for: the default model (`isnet-int8`, statically quantized by
builder/quantize_model.py, README "Which model runs by default") was chosen against
`isnet-fp16` on the 16 devset pairs themselves. This asks whether it is as good beyond
them: the same subjects in front of backgrounds neither model, nor the int8 recipe, has
seen.

Method. For each pair of DIR (layout of `../shared/devset`: `<category>/<name>.jpg` +
`<name>.gt.png`, `manifest.json`), with alpha the ground truth on [0, 1], each background
kind B gives a new photo

    composite = alpha * photo + (1 - alpha) * B        (rounded to 8 bits)

whose truth is alpha itself. The backgrounds are made by code, at the photo's devset
size, from a generator seeded by `--seed` and the pair's name and kind (a rerun makes the
same pixels, so the cached masks are hit):

    gradient  a linear two-colour gradient at a random angle (random colours)
    texture   coloured noise summed over 1, 4, 16 and 64 px scales, contrast stretched:
              busy, fine detail, where background speckle shows up
    scene     another devset photo (half the list further on), cropped to fill and
              Gaussian-blurred (radius 0.5 % of the diagonal, at least 2 px), like a
              shallow depth of field: a real-looking scene with its own objects
    solid     a saturated solid colour (one of red, green, blue, cyan, magenta, yellow,
              orange)

Each model (`devset.model_spec`: a manifest name, or `name@SIDE` for that model on a SIDE x SIDE
input; files from --model-dir) runs on each composite;
the raw outputs are cached by `devset.MaskCache.raw_image` (bench/out/masks/<model>/, keyed
by the composite's pixels), so a rerun costs only the post-processing. The final alpha
is `app.core.pipeline._postprocess` with `Options()` (plus any --set), as the product
makes it. Per background kind and overall (all composites), means over the composites of

    pMAE    plain mean |alpha - truth| on [0, 1] (bench/metrics.plain_mae)
    IoU     of alpha > 0.5 and truth > 0.5
    spk     background islands per megapixel: the `speckle` of bench/int8.py (`robust`)
            with the truth as the reference: components of alpha > 0.5 wholly outside the
            truth dilated by 8 px, each at most 2 % of the photo
    out     all of alpha > 0.5 outside the truth dilated by 8 px, per megapixel (islands
            and anything grown out of the subject)

and the ratio of the first model's pMAE to the second's. The untouched devset photos are
measured too, as a reference row outside "overall". The composites with the largest
pMAE gap between the two models are listed after the table; all figures go to
bench/out/recomposite/results.json. With --save, composites and final alphas go to OUT.
Default run (16 pairs x 4 kinds x 2 models, plus the 16 originals): 12 minutes of CPU
(25 minutes on a busy 2-core machine) with no mask cached, one minute with them cached.

Limits.
  * The photo's own edge pixels still carry a little of the old background: where
    0 < alpha < 1 the photo is already a mix of subject and old background, and the
    composite keeps that mix (a faint fringe of the old scene around hair and fur). It is
    the same for both models, so the comparison holds, but the absolute figures are not
    those of a clean new photo.
  * Binary ground truth (the SOD pairs) is a hand-drawn 0/255 mask: the composite gets
    a hard cut edge, and where the mask is a pixel or two off it keeps a sliver of the old
    background or cuts off some subject; both models see the same error.
  * Only the background is new: the 16 subjects are the ones the models were judged on,
    so the 64 composites are not 64 independent samples (a subject counts four times),
    and a ratio within a few per cent is within what 16 subjects can resolve.
  * No lighting, shadow or colour matching between subject and background, and
    synthetic backgrounds (except `scene`): a model can find a pasted subject easier
    (or harder) than a real photo's.
  * Devset sizes (481-1120 px long side), no camera-size enlargement.

Imports: NumPy, SciPy, Pillow, pysodmetrics (via bench/metrics.py), `app`; onnxruntime
only when a mask is not cached yet. Reuses bench/devset.py (pairs, mask cache, options),
bench/metrics.py (plain MAE) and bench/int8.py (speckle).
"""
from __future__ import annotations

import argparse
import json
import sys
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devset import DEFAULT_DEVSET, DEFAULT_MODEL_DIR, OUT, MaskCache, Pair, load_pairs, model_spec, parse_options  # noqa: E402
from int8 import speckle  # noqa: E402
from metrics import plain_mae  # noqa: E402

from app.core import pipeline  # noqa: E402

KINDS = ("gradient", "texture", "scene", "solid")
MODELS = ("isnet-int8", "isnet-fp16")
SEED = 20261202
ORIGINAL = "original"      # the untouched devset photo: reference row, not in "overall"
SATURATED = {"red": (230, 20, 20), "green": (20, 200, 40), "blue": (25, 40, 230), "cyan": (0, 210, 230),
             "magenta": (220, 0, 200), "yellow": (250, 225, 0), "orange": (255, 120, 0)}
KEYS = ("pMAE", "IoU", "spk", "out")


# --------------------------------------------------------------------------- backgrounds

def generator(seed: int, pair: Pair, kind: str) -> np.random.Generator:
    """A generator of its own for each (seed, pair, kind): adding a pair or kind leaves
    every other background as it was."""
    return np.random.default_rng([seed, zlib.crc32(f"{pair.name}:{kind}".encode())])


def gradient(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    start, end = rng.uniform(0, 255, (2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = x * np.cos(angle) + y * np.sin(angle)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
    return start * (1 - t[..., None]) + end * t[..., None]


def texture(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    width, height = size
    total = np.zeros((height, width, 3), np.float32)
    for cell in (1, 4, 16, 64):
        small = rng.uniform(0, 255, (-(-height // cell) + 1, -(-width // cell) + 1, 3)).astype(np.uint8)
        total += np.asarray(Image.fromarray(small).resize(size, Image.Resampling.BILINEAR), np.float32)
    low, high = np.percentile(total, (1, 99))     # a sum of four is greyish: stretch it
    return np.clip((total - low) * (255 / max(float(high - low), 1.0)), 0, 255)


def scene(size: tuple[int, int], other: Image.Image, rng: np.random.Generator) -> np.ndarray:
    fitted = ImageOps.fit(other, size, Image.Resampling.LANCZOS)
    if rng.random() < 0.5:
        fitted = ImageOps.mirror(fitted)
    radius = max(2.0, 0.005 * float(np.hypot(*size)))
    return np.asarray(fitted.filter(ImageFilter.GaussianBlur(radius)), np.float32)


def solid(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    colour = list(SATURATED.values())[rng.integers(len(SATURATED))]
    return np.broadcast_to(np.asarray(colour, np.float32), (size[1], size[0], 3))


def background(kind: str, size: tuple[int, int], rng: np.random.Generator, other: Image.Image) -> np.ndarray:
    """(H, W, 3) float background of `kind` for a photo of `size` (width, height)."""
    if kind == "scene":
        return scene(size, other, rng)
    return {"gradient": gradient, "texture": texture, "solid": solid}[kind](size, rng)


def composite(image: Image.Image, gt: np.ndarray, back: np.ndarray) -> Image.Image:
    """alpha * photo + (1 - alpha) * back, alpha the ground truth, rounded to 8 bits."""
    alpha = (gt.astype(np.float32) / 255)[..., None]
    mixed = alpha * np.asarray(image, np.float32) + (1 - alpha) * back
    return Image.fromarray(np.clip(np.rint(mixed), 0, 255).astype(np.uint8))


# --------------------------------------------------------------------------- scoring

def score(alpha8: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """pMAE, IoU at 0.5, background islands and all false area outside the dilated truth
    (both per megapixel) of a uint8 final alpha against the uint8 truth."""
    fore, truth = alpha8 > 127, gt > 127
    union = (fore | truth).sum()
    outside = fore & ~ndimage.binary_dilation(truth, iterations=8)
    return {
        "pMAE": plain_mae(alpha8, gt),
        "IoU": float((fore & truth).sum() / union) if union else 1.0,
        "spk": speckle(alpha8 / 255.0, gt / 255.0),
        "out": float(outside.sum() / fore.size * 1e6),
    }


def final_alpha(image: Image.Image, raw: np.ndarray, options) -> np.ndarray:
    rgba, _ = pipeline._postprocess(image, raw, options)
    return np.asarray(rgba.getchannel("A"))


def evaluate(pairs: list[Pair], caches: dict[str, MaskCache], kinds, options, seed: int, save: Path | None):
    """[{pair, kind, model: score}] for every pair, the untouched photo and each kind."""
    records = []
    for index, pair in enumerate(pairs):
        image, gt = pair.load()
        other, _ = pairs[(index + len(pairs) // 2) % len(pairs)].load()
        photos = {ORIGINAL: (image, lambda cache: cache.raw(pair.photo, image))}
        for kind in kinds:
            made = composite(image, gt, background(kind, image.size, generator(seed, pair, kind), other))
            photos[kind] = (made, lambda cache, made=made: cache.raw_image(made))
        for kind, (photo, raw_of) in photos.items():
            record = {"pair": pair.name, "kind": kind}
            for name, cache in caches.items():
                alpha8 = final_alpha(photo, raw_of(cache), options)
                record[name] = score(alpha8, gt)
                if save is not None:
                    save.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(alpha8).save(save / f"{pair.name}.{kind}.{name}.alpha.png")
            if save is not None and kind != ORIGINAL:
                photo.save(save / f"{pair.name}.{kind}.jpg", quality=92)
            records.append(record)
            print(f"  {pair.name:<22} {kind:<9}" + "".join(
                f"  {name}: pMAE {record[name]['pMAE']:.4f} IoU {record[name]['IoU']:.3f} "
                f"spk {record[name]['spk']:.0f}" for name in caches), flush=True)
    return records


def summarise(records, models, kinds) -> dict[str, dict[str, dict[str, float]]]:
    """{row: {model: {key: mean}}} for each kind, 'overall' (every composite) and the original."""
    groups = defaultdict(list)
    for record in records:
        groups[record["kind"]].append(record)
        if record["kind"] != ORIGINAL:
            groups["overall"].append(record)
    rows = {}
    for row in (*kinds, "overall", ORIGINAL):
        members = groups[row]
        rows[row] = {m: {k: float(np.mean([r[m][k] for r in members])) for k in KEYS} for m in models}
        rows[row]["n"] = len(members)
    return rows


def print_table(rows, models) -> None:
    first, second = models
    print(f"\n## final alpha (Options()) against the truth; means over the composites of each row; "
          f"ratio: {first} pMAE / {second} pMAE")
    print("   pMAE: plain MAE on [0, 1]; IoU at 0.5; spk: background islands px/MP (bench/int8.py speckle, "
          "truth as reference); out: all alpha > 0.5 outside the truth dilated 8 px, px/MP")
    header = f"{'background':<10}{'n':>4}"
    for model in models:
        header += "".join(f"{(model[6:] if model.startswith('isnet-') else model) + ' ' + k:>13}" for k in KEYS)
    print(header + f"{'ratio':>8}")
    for row, figures in rows.items():
        if row == ORIGINAL:
            print("(devset photos as they are, the set both models were judged on)")
        line = f"{row:<10}{figures['n']:>4}"
        for model in models:
            f = figures[model]
            line += f"{f['pMAE']:>13.4f}{f['IoU']:>13.4f}{f['spk']:>13.0f}{f['out']:>13.0f}"
        ratio = figures[first]["pMAE"] / figures[second]["pMAE"] if figures[second]["pMAE"] else float("nan")
        print(line + f"{ratio:>8.3f}")


def print_gaps(records, models, most: int = 5) -> None:
    first, second = models
    composites = [r for r in records if r["kind"] != ORIGINAL]
    gaps = sorted(composites, key=lambda r: r[first]["pMAE"] - r[second]["pMAE"])
    print(f"\nlargest pMAE gaps ({first} - {second}):")
    for label, chosen in (("worse", gaps[::-1][:most]), ("better", gaps[:most])):
        print(f"  {first} {label}: " + ", ".join(
            f"{r['pair']}/{r['kind']} {r[first]['pMAE'] - r[second]['pMAE']:+.4f}" for r in chosen))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--models", default=",".join(MODELS), help="two manifest models; ratio = first / second")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an Options() override")
    parser.add_argument("--save", type=Path, help="write composites and final alphas here")
    args = parser.parse_args(argv)

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if len(models) != 2:
        raise SystemExit("--models: give exactly two models (the ratio is first / second)")
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise SystemExit(f"--kinds: {', '.join(unknown) or 'none given'}; choose from {', '.join(KINDS)}")
    pairs = load_pairs(args.dir)
    if len(pairs) < 2:
        raise SystemExit(f"{args.dir}: needs at least two pairs (the scene background is another photo)")
    options = parse_options(args.set)
    caches = {m: MaskCache(model_spec(m), args.model_dir) for m in models}

    print(f"## {len(pairs)} pairs x {len(kinds)} backgrounds ({', '.join(kinds)}), seed {args.seed}, "
          f"models {', '.join(models)}")
    records = evaluate(pairs, caches, kinds, options, args.seed, args.save)
    rows = summarise(records, models, kinds)
    print_table(rows, models)
    print_gaps(records, models)
    out = OUT / "recomposite"
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(
        {"seed": args.seed, "models": models, "kinds": kinds, "options": options.to_dict(),
         "rows": rows, "records": records}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
