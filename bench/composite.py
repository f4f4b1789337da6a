"""Colour fringe on new backgrounds, without ground truth.

    python bench/composite.py [DIR] [--model-dir dist/models] [--model isnet-fp16[@SIDE] | --model-file PATH]
                              [--save OUT]
                              [--set shift_edge=-1 --set decontaminate=false ...]

Pastes each cutout (raw: the photo's RGB with the bilinear mask; ours: the full
pipeline) on pure white, pure black and saturated green/magenta, and measures the
fringe in the edge band (alpha in [0.05, 0.95]). A clean composite's band pixels are
mixtures of the subject's colour and the new background C, so they lie on the
segment from the local subject colour (mean of nearby pixels of the cutout, weighted
by alpha^8)
to C. The fringe is the mean distance (0-255 units) of band pixels from that
segment: the old background pulls them off it. Texture in the subject adds the
same floor to both columns. With --save, composites of the hair/fur pairs go to
OUT (default bench/out/composites) to look at.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devset import DEFAULT_DEVSET, DEFAULT_MODEL_DIR, OUT, MaskCache, file_spec, load_pairs, model_spec, parse_options  # noqa: E402

from app.core import pipeline, postprocess  # noqa: E402
from app.core.matting import local_colour  # noqa: E402

BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0), "green": (0, 255, 0), "magenta": (255, 0, 255)}


def fringe(rgba: np.ndarray, background) -> float:
    """Mean distance of edge-band composite pixels from the subject-to-background segment."""
    colour = rgba[..., :3].astype(np.float32) / 255
    alpha = rgba[..., 3].astype(np.float32) / 255
    band = (alpha >= 0.05) & (alpha <= 0.95)
    if not band.any():
        return 0.0
    back = np.asarray(background, np.float32) / 255
    composite = alpha[..., None] * colour + (1 - alpha[..., None]) * back
    # Nearby subject colour: weighted towards the most opaque pixels (alpha^8), so a
    # feathered thin subject with no fully opaque pixel left still has one.
    subject = local_colour(colour, alpha ** 8, blocks=(4, 16, 64))
    line = subject[band] - back
    offset = composite[band] - back
    t = np.clip((offset * line).sum(1) / np.maximum((line * line).sum(1), 1e-6), 0, 1)
    distance = np.linalg.norm(offset - t[:, None] * line, axis=1)
    return float(distance.mean() * 255)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--model", default="isnet-fp16")
    parser.add_argument("--model-file", type=Path, default=None, metavar="PATH",
                        help="a model file outside the manifest instead of --model (isnet-fp16's input)")
    parser.add_argument("--save", type=Path, nargs="?", const=OUT / "composites", default=None)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one Options field for 'ours'")
    args = parser.parse_args(argv)
    options = parse_options(args.set)

    if args.model_file is not None:
        cache = MaskCache(file_spec(args.model_file), args.model_file.parent)
    else:
        cache = MaskCache(model_spec(args.model), args.model_dir)
    print(f"## colour fringe in the edge band (mean distance off the subject-to-background "
          f"segment, 0-255), {cache.spec.name}: raw -> ours {options}")
    print(f"{'pair':<24}" + "".join(f"{name:>18}" for name in BACKGROUNDS))
    totals = {name: [[], []] for name in BACKGROUNDS}
    for pair in load_pairs(args.dir):
        image, _ = pair.load()
        raw = cache.raw(pair.photo, image)
        mask = postprocess.normalise_mask(raw)
        before = np.asarray(postprocess.compose_rgba(image, postprocess.upscale_mask(mask, image.size)))
        after = np.asarray(pipeline._postprocess(image, raw, options)[0])
        cells = []
        for name, colour in BACKGROUNDS.items():
            f0, f1 = fringe(before, colour), fringe(after, colour)
            totals[name][0].append(f0)
            totals[name][1].append(f1)
            cells.append(f"{f0:>8.1f} -> {f1:>5.1f}")
        print(f"{pair.name:<24}" + "".join(f"{c:>18}" for c in cells))
        if args.save and pair.category in ("hair_soft", "fur_soft", "thin_holes"):
            args.save.mkdir(parents=True, exist_ok=True)
            for label, rgba in (("raw", before), ("ours", after)):
                tiles = [Image.alpha_composite(Image.new("RGBA", image.size, c + (255,)),
                                               Image.fromarray(rgba, "RGBA")) for c in BACKGROUNDS.values()]
                sheet = Image.new("RGB", (image.width * 2, image.height * 2))
                for i, tile in enumerate(tiles):
                    sheet.paste(tile.convert("RGB"), ((i % 2) * image.width, (i // 2) * image.height))
                sheet.save(args.save / f"{pair.name}.{label}.png")
    print(f"{'mean':<24}" + "".join(
        f"{np.mean(t[0]):>8.1f} -> {np.mean(t[1]):>5.1f}" for t in totals.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
