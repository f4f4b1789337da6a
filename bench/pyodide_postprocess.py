"""Post-processing time under real Pyodide (the browser's NumPy and Pillow), per stage.

    python bench/pyodide_postprocess.py [--mp 1,12,24] [--model isnet-fp16] [--pair am_GT03]

Picks a devset photo and its cached model mask (computing it once if needed),
then runs bench/pyodide_postprocess.mjs under Node with the Pyodide and wheels
that build.py put in dist/vendor/pyodide, and prints a table: the refine stages and
their total, then the PNG encoding of the result (`encode`), a feather change that
reuses the run's working results (`restyle`, what the page's edge settings cost), the
photo's working planes a first click makes (`planes`), a Drop part click (`pick`) and the
edited cutout the worker then sends (`edited`: remade in the changed box; `edited_whole`).
Pyodide here is single-threaded, like NumPy in the browser worker.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from devset import DEFAULT_DEVSET, DEFAULT_MODEL_DIR, OUT, REPO, MaskCache, load_pairs  # noqa: E402

from app.core.spec import get_spec  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devset", type=Path, default=DEFAULT_DEVSET)
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--model", default="isnet-fp16")
    parser.add_argument("--pair", default="am_GT03")
    parser.add_argument("--mp", default="1,12,24")
    parser.add_argument("--repeats", default="2")
    parser.add_argument("--pyodide", type=Path, default=REPO / "dist" / "vendor" / "pyodide")
    parser.add_argument("--options", default="{}", help="JSON for Options.from_dict")
    args = parser.parse_args(argv)

    pair = next(p for p in load_pairs(args.devset) if p.name == args.pair)
    raw = MaskCache(get_spec(args.model), args.model_dir).raw(pair.photo)
    mask_path = OUT / f"pyodide-{args.model}-{pair.name}.npy"
    mask_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(mask_path, raw)
    command = ["node", str(REPO / "bench" / "pyodide_postprocess.mjs"), str(pair.photo), str(mask_path),
               "--mp", args.mp, "--repeats", args.repeats, "--pyodide", str(args.pyodide),
               "--wheels", str(args.pyodide), "--options", args.options]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        print(result.stderr, file=sys.stderr)
        return result.returncode
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    after = ("total", "encode", "restyle", "planes", "pick", "edited", "edited_whole")
    stages = [k for k in rows[0] if k not in ("size", "raw") + after]
    print(f"## post-processing under Pyodide 0.27.7 (Node, 1 thread), {pair.name} upscaled, "
          f"{args.model} mask: seconds, best of {args.repeats}")
    print(f"{'size':<11}{'raw':>8}" + "".join(f"{s:>12}" for s in stages + list(after)))
    for row in rows:
        print(f"{row['size']:<11}{row['raw']:>8.3f}"
              + "".join(f"{row.get(s, 0):>12.3f}" for s in stages + list(after)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
