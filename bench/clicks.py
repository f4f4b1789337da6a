"""Keep part / Drop part clicked as users click: how fast a few clicks repair a cutout.

    python bench/clicks.py [--sets devset,composites,generated] [--clicks 5] [--strokes 3]
                           [--model isnet-int8] [--per-subject 12] [--generated 60] [--limit N] [--per-photo]

What it is for: every in-browser peer runs the same ISNet weights, so what a user gets
beyond them is how quickly the model's mistakes can be repaired. A click must fix what
it points at: a click in a hole changes the hole, a click near an edge changes a little.

Protocol (NoC, as used to compare click tools): the cutout is the product's (the model's
mask through `pipeline._postprocess` with `Options()`). Then, up to --clicks times: the
error is where (alpha >= 128) differs from (truth >= 128); the click goes to the deepest
point (farthest from the region's border) of its largest 8-connected region; a *keep*
(`Pick(keep=True)`) where the subject is missing, a *drop* where background is kept.
The growing edit list is replayed through `app.core.edits.Replay`, exactly as the
page's worker replays it. Per click count 0..N it reports the mean IoU of alpha >= 128
against truth >= 128, the mean plain MAE against the unthresholded truth, NoC@85/90
(clicks until IoU reaches 0.85 / 0.90; N + 1 when not reached, and how many never
do), and the share of clicks that make IoU worse by more than 0.02.

Beside it, the oracle: each click sets exactly the connected error region under it to
the truth (what a perfect Keep/Drop part could do with that click): the room there is.

Brushes get the same scrutiny (--strokes, default 3): each stroke runs along the
skeleton of the largest error region (its pixels ordered along the region's main axis),
radius the region's median half-width there, restore where the subject is missing, erase
where background is kept; once with Snap to edges (the page's default) and once without.

Sets:
    devset      ../shared/devset, 16 real photos with human truth (tuning data: read with care)
    composites  the devset's soft-alpha subjects over new backgrounds (bench/synth.py,
                --per-subject each; foreground colours estimated so no old fringe remains)
    generated   drawn subjects with exact truth (bench/synth.py: meshes, fences, rings,
                leaves, glass, hard objects, several subjects)
Model masks are cached (bench/devset.MaskCache), so a rerun costs only post-processing
and clicks. Results also go to bench/out/clicks/<set>.json.

Limits: the simulated user clicks at the deepest point of the largest error, never on a
region's border and never twice on a spot it already fixed; real users also click near
edges (then a click should change little: the "worse" share counts that). IoU at 0.5
ignores soft alpha; plain MAE sees it.

Imports: NumPy, SciPy, Pillow, scikit-image (skeletons), `app`; bench/devset.py, bench/synth.py,
bench/metrics.py.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devset import DEFAULT_DEVSET, DEFAULT_MODEL_DIR, OUT, MaskCache, load_pairs, model_spec  # noqa: E402
from metrics import plain_mae  # noqa: E402

from app.core import edits as mask_edits, pipeline, postprocess  # noqa: E402
from app.core.options import Options  # noqa: E402

THRESHOLDS = (0.85, 0.90)
WORSE = 0.02                 # a click that lowers IoU by more than this made the cutout worse
EIGHT = np.ones((3, 3), bool)


@dataclass
class Case:
    """One photo to click on: the photo, its truth, the model's mask, the product's alpha."""

    name: str
    category: str
    photo: Image.Image
    truth: np.ndarray        # (H, W) uint8
    mask: np.ndarray         # (S, S) float32, normalised model mask
    alpha: np.ndarray        # (H, W) uint8, the product's cutout before any click


def iou(alpha8: np.ndarray, truth8: np.ndarray) -> float:
    fore, truth = alpha8 >= 128, truth8 >= 128
    union = np.count_nonzero(fore | truth)
    return float(np.count_nonzero(fore & truth) / union) if union else 1.0


def next_click(alpha8: np.ndarray, truth8: np.ndarray):
    """(x, y, keep, region) of the protocol's next click, or None when nothing is wrong:
    the deepest point of the largest 8-connected error region, `keep` where the truth is
    subject; `region` the bool mask of that error region."""
    truth = truth8 >= 128
    error = (alpha8 >= 128) != truth
    if not error.any():
        return None
    ids, count = ndimage.label(error, EIGHT)
    areas = np.bincount(ids.ravel(), minlength=count + 1)
    areas[0] = 0
    region = ids == int(np.argmax(areas))
    depth = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return col + 0.5, row + 0.5, bool(truth[row, col]), region


def oracle_fix(alpha8: np.ndarray, truth8: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The alpha with exactly the clicked error region set to the truth."""
    out = alpha8.copy()
    out[region] = truth8[region]
    return out


def run_case(case: Case, clicks: int) -> dict:
    """IoU and plain MAE after 0..clicks clicks, for the product and the oracle, and each
    click's (x, y, keep) and seconds."""
    product = {"iou": [iou(case.alpha, case.truth)], "mae": [plain_mae(case.alpha, case.truth)],
               "clicks": [], "seconds": []}
    oracle = {"iou": list(product["iou"]), "mae": list(product["mae"])}
    replay = mask_edits.Replay(case.alpha, case.photo, case.mask)
    picks: list = []
    alpha = case.alpha
    for _ in range(clicks):
        click = next_click(alpha, case.truth)
        if click is None:
            product["iou"].append(product["iou"][-1])
            product["mae"].append(product["mae"][-1])
            continue
        x, y, keep, _ = click
        picks.append(mask_edits.Pick(x, y, keep))
        started = time.perf_counter()
        alpha = replay.alpha_for(picks).copy()
        product["seconds"].append(time.perf_counter() - started)
        product["clicks"].append([x, y, keep])
        product["iou"].append(iou(alpha, case.truth))
        product["mae"].append(plain_mae(alpha, case.truth))
    alpha = case.alpha
    for _ in range(clicks):
        click = next_click(alpha, case.truth)
        if click is not None:
            alpha = oracle_fix(alpha, case.truth, click[3])
        oracle["iou"].append(iou(alpha, case.truth))
        oracle["mae"].append(plain_mae(alpha, case.truth))
    return {"name": case.name, "category": case.category, "product": product, "oracle": oracle}


def run_all(case: Case, clicks: int, strokes: int) -> dict:
    """`run_case`, and with `strokes` the stroke protocol with Snap to edges on and off."""
    result = run_case(case, clicks)
    if strokes:
        result["snap"] = run_strokes(case, strokes, snap=True)
        result["plain"] = run_strokes(case, strokes, snap=False)
    return result


def next_stroke(alpha8: np.ndarray, truth8: np.ndarray, snap: bool):
    """The protocol's next brush stroke, or None: along the skeleton of the largest error
    region (its pixels ordered along the region's main axis), radius the region's median
    half-width there, restore where the subject is missing, erase where background is kept."""
    from skimage.morphology import skeletonize

    click = next_click(alpha8, truth8)
    if click is None:
        return None
    _, _, keep, region = click
    depth = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    rows, cols = np.nonzero(skeletonize(region))
    if len(rows) == 0:
        rows, cols = np.nonzero(depth == depth.max())
    centre = np.array([rows.mean(), cols.mean()])
    offsets = np.stack([rows, cols], 1) - centre
    axis = np.linalg.svd(offsets, full_matrices=False)[2][0] if len(rows) > 1 else np.array([1.0, 0.0])
    order = np.argsort(offsets @ axis)
    step = max(1, len(order) // 200)                     # a drag reports a point every few pixels
    points = [(float(cols[i]) + 0.5, float(rows[i]) + 0.5) for i in order[::step]]
    radius = float(max(1.0, np.median(depth[rows, cols])))
    return mask_edits.Stroke("restore" if keep else "erase", tuple(points), radius, snap=snap)


def run_strokes(case: Case, strokes: int, snap: bool) -> dict:
    """IoU and plain MAE after 0..strokes strokes of the stroke protocol."""
    out = {"iou": [iou(case.alpha, case.truth)], "mae": [plain_mae(case.alpha, case.truth)], "seconds": []}
    replay = mask_edits.Replay(case.alpha, case.photo, case.mask)
    done: list = []
    alpha = case.alpha
    for _ in range(strokes):
        stroke = next_stroke(alpha, case.truth, snap)
        if stroke is not None:
            done.append(stroke)
            started = time.perf_counter()
            alpha = replay.alpha_for(done).copy()
            out["seconds"].append(time.perf_counter() - started)
        out["iou"].append(iou(alpha, case.truth))
        out["mae"].append(plain_mae(alpha, case.truth))
    return out


def noc(ious: list[float], threshold: float) -> int:
    """Clicks until IoU reaches `threshold` (len(ious) when never)."""
    return next((k for k, value in enumerate(ious) if value >= threshold), len(ious))


def summary(results: list[dict], who: str, clicks: int) -> dict:
    ious = np.array([r[who]["iou"] for r in results])
    maes = np.array([r[who]["mae"] for r in results])
    steps = np.diff(ious, axis=1)
    out = {"iou": ious.mean(0).tolist(), "mae": maes.mean(0).tolist(),
           "worse": float((steps < -WORSE).mean()) if steps.size else 0.0,
           "better": float((steps > WORSE).mean()) if steps.size else 0.0}
    for threshold in THRESHOLDS:
        counts = [noc(list(row), threshold) for row in ious]
        out[f"noc{round(threshold * 100)}"] = float(np.mean(counts))
        out[f"miss{round(threshold * 100)}"] = int(sum(c > clicks for c in counts))
    seconds = [s for r in results for s in r[who].get("seconds", [])]
    out["seconds"] = float(np.median(seconds)) if seconds else 0.0
    return out


def print_summary(title: str, results: list[dict], clicks: int) -> None:
    print(f"\n## {title}: {len(results)} photos, up to {clicks} clicks (strokes: snap / plain brush)")
    head = "".join(f"{'IoU@' + str(k):>8}" for k in range(clicks + 1))
    print(f"{'':<9}{head}{'pMAE@0':>8}{'pMAE@1':>8}{'pMAE@' + str(clicks):>8}"
          f"{'NoC85':>7}{'NoC90':>7}{'miss90':>7}{'worse':>7}{'s/edit':>8}")
    for who in ("product", "oracle", "snap", "plain"):
        if who not in results[0]:
            continue
        steps = len(results[0][who]["iou"]) - 1
        s = summary(results, who, steps)
        ious = "".join(f"{v:>8.3f}" for v in s["iou"]) + " " * 8 * (clicks - steps)
        print(f"{who:<9}{ious}{s['mae'][0]:>8.4f}{s['mae'][1]:>8.4f}{s['mae'][-1]:>8.4f}"
              f"{s['noc85']:>7.2f}{s['noc90']:>7.2f}{s['miss90']:>7d}{s['worse']:>7.1%}"
              f"{s.get('seconds', 0.0):>8.2f}")


def print_per_photo(results: list[dict]) -> None:
    print(f"\n{'photo':<34}{'category':<14}{'product IoU after 0..N clicks':<48}oracle after 1, 3")
    for r in results:
        ious = " ".join(f"{v:.3f}" for v in r["product"]["iou"])
        kinds = "".join("k" if keep else "d" for _, _, keep in r["product"]["clicks"])
        print(f"{r['name'][:33]:<34}{r['category'][:13]:<14}{ious:<42}{kinds:<6}"
              f"{r['oracle']['iou'][1]:.3f} {r['oracle']['iou'][min(3, len(r['oracle']['iou']) - 1)]:.3f}")


# --------------------------------------------------------------------------- data

def product_case(name: str, category: str, photo: Image.Image, truth: np.ndarray, raw: np.ndarray) -> Case:
    rgba, mask = pipeline._postprocess(photo, raw, Options())
    return Case(name, category, photo, truth, mask, np.array(rgba.getchannel("A")))


def devset_cases(cache: MaskCache, root: Path):
    for pair in load_pairs(root):
        photo, truth = pair.load()
        yield product_case(pair.name, pair.category, photo, truth, cache.raw(pair.photo, photo))


def synth_cases(cache: MaskCache, samples):
    for sample in samples:
        photo, truth = sample.make()
        yield product_case(sample.name, sample.category, photo, truth, cache.raw_image(photo))


def cases_for(name: str, cache: MaskCache, args):
    if name == "devset":
        return devset_cases(cache, args.devset)
    import synth

    if name == "composites":
        return synth_cases(cache, synth.devset_composites(per_subject=args.per_subject, devset=args.devset))
    if name == "generated":
        return synth_cases(cache, synth.generated(count=args.generated))
    raise SystemExit(f"--sets: unknown set {name!r} (devset, composites, generated)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="devset,composites,generated")
    parser.add_argument("--clicks", type=int, default=5)
    parser.add_argument("--strokes", type=int, default=3, help="brush strokes per photo (0: none)")
    parser.add_argument("--model", default="isnet-int8")
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--per-subject", type=int, default=12, help="composites per devset soft-alpha subject")
    parser.add_argument("--generated", type=int, default=60, help="generated subjects")
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos per set")
    parser.add_argument("--per-photo", action="store_true", help="also print every photo's row")
    args = parser.parse_args(argv)
    cache = MaskCache(model_spec(args.model), args.model_dir)
    everything = []
    for name in filter(None, args.sets.split(",")):
        started = time.perf_counter()
        results = []
        for index, case in enumerate(cases_for(name, cache, args)):
            if args.limit and index >= args.limit:
                break
            results.append(run_all(case, args.clicks, args.strokes))
        if not results:
            continue
        print_summary(f"{name} ({args.model}, {time.perf_counter() - started:.0f} s)", results, args.clicks)
        if args.per_photo:
            print_per_photo(results)
        (OUT / "clicks").mkdir(parents=True, exist_ok=True)
        (OUT / "clicks" / f"{name}.json").write_text(json.dumps(results))
        everything += results
    if len({r["category"] for r in everything}) > 1 and len(args.sets.split(",")) > 1:
        print_summary("all sets", everything, args.clicks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
