// Time the post-processing (app/core/refine.py, stage by stage) under real Pyodide in Node.
//
//   node bench/pyodide_postprocess.mjs PHOTO.jpg MASK.npy [--mp 1,12,24] [--repeats 2]
//        [--pyodide dist/vendor/pyodide] [--wheels dist/vendor/pyodide] [--options '{"feather":2}']
//
// PHOTO is upscaled (bicubic) to each size; MASK is the model's raw (1,1,S,S) float32
// output saved with numpy.save (bench/pyodide_postprocess.py prepares both from the
// devset and the mask cache). Pyodide runs single-threaded here, as NumPy does in the
// browser worker. Prints one JSON line per size with the seconds per stage (best run),
// the PNG encoding of the result ("encode") and a change of edge setting that reuses the
// run's working results, as the page's restyle does (feather 2 px more: "restyle"), a Drop
// part click where the model is surest ("planes": the photo's working planes, made once a
// photo; "pick": app.core.edits.Replay), the edited cutout made from it as the engine does
// (a copy of the kept one, remade in the box the click changed: "edited") and made whole
// ("edited_whole", as before 2026-12-07).
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1] : fallback;
};
const pyodideDir = path.resolve(flag("--pyodide", path.join(repo, "dist/vendor/pyodide")));
const wheelDir = path.resolve(flag("--wheels", path.join(repo, "dist/vendor/pyodide")));
const sizes = flag("--mp", "1,12,24").split(",").map(Number);
const repeats = Number(flag("--repeats", "2"));
const options = flag("--options", "{}");
const [photo, mask] = args;
if (!photo || !mask) {
  console.error("usage: node bench/pyodide_postprocess.mjs PHOTO.jpg MASK.npy [--mp 1,12,24]");
  process.exit(2);
}

const { loadPyodide } = await import(path.join(pyodideDir, "pyodide.mjs"));
const pyodide = await loadPyodide({ indexURL: pyodideDir + "/" });
const wheels = readdirSync(wheelDir).filter((f) => /^(numpy|pillow)-.*\.whl$/.test(f));
await pyodide.loadPackage(wheels.map((f) => path.join(wheelDir, f)));

// The app's pure core, copied into Pyodide's file system as it is.
const core = path.join(repo, "app/core");
pyodide.FS.mkdirTree("/work/app/core");
pyodide.FS.writeFile("/work/app/__init__.py", "");
for (const f of readdirSync(core).filter((f) => f.endsWith(".py"))) {
  pyodide.FS.writeFile(`/work/app/core/${f}`, readFileSync(path.join(core, f)));
}
pyodide.FS.writeFile("/work/photo", readFileSync(photo));
pyodide.FS.writeFile("/work/mask.npy", readFileSync(mask));

const code = `
import dataclasses, io, json, sys, time
sys.path.insert(0, "/work")
import numpy as np
from PIL import Image
from app.core import edits, pipeline, postprocess, refine
from app.core.options import Options

options = Options.from_dict(json.loads(${JSON.stringify(options)}))
photo = Image.open("/work/photo").convert("RGB")
mask = postprocess.normalise_mask(np.load("/work/mask.npy"))
lines = []
for mp in ${JSON.stringify(sizes)}:
    scale = (mp * 1e6 / (photo.width * photo.height)) ** 0.5
    image = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.BICUBIC)
    best = None
    for _ in range(${repeats}):
        started = time.perf_counter()
        postprocess.compose_rgba(image, postprocess.upscale_mask(mask, image.size))
        raw = time.perf_counter() - started
        timings = {}
        reuse = refine.Reuse()
        started = time.perf_counter()
        rgba = refine.refine(image, mask, options, timings, reuse)
        timings["total"] = time.perf_counter() - started
        timings["raw"] = raw
        started = time.perf_counter()
        postprocess.encode_png(rgba)
        timings["encode"] = time.perf_counter() - started
        del rgba
        started = time.perf_counter()
        refine.refine(image, mask, dataclasses.replace(options, feather=options.feather + 2), reuse=reuse)
        timings["restyle"] = time.perf_counter() - started
        # A Drop part click where the subject is surest, then the cutout the page is sent.
        cutout = refine.refine(image, mask, options)
        alpha = np.asarray(cutout.getchannel("A"))
        row, col = np.unravel_index(int(np.argmax(mask)), mask.shape)
        pick = edits.Pick((col + 0.5) * image.width / mask.shape[1], (row + 0.5) * image.height / mask.shape[0], False)
        replay = edits.Replay(alpha, image, mask)
        started = time.perf_counter()
        replay.source.work()
        timings["planes"] = time.perf_counter() - started
        started = time.perf_counter()
        changed = replay.alpha_for([pick])
        timings["pick"] = time.perf_counter() - started
        started = time.perf_counter()
        box = replay.take_changed()
        made = cutout.copy()
        made.paste(edits.edited_cutout(cutout, image, changed, box), box[:2])
        timings["edited"] = time.perf_counter() - started
        started = time.perf_counter()
        edits.edited_cutout(cutout, image, changed)
        timings["edited_whole"] = time.perf_counter() - started
        del reuse, cutout, replay
        if best is None or timings["total"] < best["total"]:
            best = timings
    lines.append(json.dumps({"size": f"{image.width}x{image.height}",
                             **{k: round(v, 3) for k, v in best.items()}}))
    del image
"\\n".join(lines)
`;
console.log(await pyodide.runPythonAsync(code));
