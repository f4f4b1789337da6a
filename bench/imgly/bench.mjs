// Drives @imgly/background-removal as an app would: preload the model at page load,
// cut out each chosen file with removeBackground(file, config) (PNG by default) and
// show the PNG. Times land in window.__bench (performance.now() milliseconds):
//   marks: interactive (input wired), ready (preload resolved)
//   runs[]: chosen, stages {decode, inference, mask, compose, encode: start times from
//           the library's progress callback}, run_start/run_end (ONNX Runtime's
//           session.run, wrapped), png (PNG blob ready), visible (PNG drawn on screen)
//   sessions[]: ONNX Runtime InferenceSession.create start/end
// The model comes from the query: ?model=isnet_quint8 | isnet_fp16.
import * as ortModule from "onnxruntime-web";
import { preload, removeBackground } from "@imgly/background-removal";

const bench = (window.__bench = { marks: {}, runs: [], sessions: [], errors: [], fetches: [] });
const ort = ortModule.default ?? ortModule;

// The same module instance the library imports (same URL via the import map), so
// wrapping the class's methods times the library's own calls.
const Session = ort.InferenceSession;
const create = Session.create;
Session.create = async function (...args) {
  const entry = { start: performance.now() };
  bench.sessions.push(entry);
  try {
    return await create.apply(this, args);
  } finally {
    entry.end = performance.now();
  }
};
const run = Session.prototype.run;
Session.prototype.run = async function (...args) {
  const current = bench.current;
  const start = performance.now();
  try {
    return await run.apply(this, args);
  } finally {
    if (current) {
      current.run_start = start;
      current.run_end = performance.now();
    }
  }
};

const params = new URLSearchParams(location.search);
const config = {
  publicPath: new URL("/data/", location.href).href,
  model: params.get("model") || "isnet_quint8",
  device: "cpu",
  output: { format: "image/png" },
  progress: (key, current, total) => {
    if (key.startsWith("fetch:")) {
      bench.fetches.push({ key, current, total, at: performance.now() });
      return;
    }
    const run = bench.current;
    if (!run) return;
    // compute:decode 0/4, compute:inference 1/4, compute:mask 2/4, compute:encode 3/4 and 4/4
    const name = { "compute:decode": "decode", "compute:inference": "inference", "compute:mask": "mask" }[key]
      ?? (current >= total ? "done" : "encode");
    run.stages[name] = performance.now();
  },
};

const status = document.getElementById("status");
const input = document.getElementById("file-input");
const image = document.getElementById("cutout");

input.addEventListener("change", async () => {
  const file = input.files[0];
  if (!file) return;
  input.value = "";                       // choosing the same file again is a new choice
  const entry = { chosen: performance.now(), stages: {}, name: file.name };
  bench.runs.push(entry);
  bench.current = entry;
  status.textContent = "Working…";
  try {
    const blob = await removeBackground(file, config);
    entry.png = performance.now();
    entry.png_bytes = blob.size;
    const url = URL.createObjectURL(blob);
    image.src = url;
    await image.decode();
    requestAnimationFrame(() => {
      entry.visible = performance.now();
      entry.width = image.naturalWidth;
      entry.height = image.naturalHeight;
      status.textContent = "Done.";
      entry.done = true;
      if (bench.shownUrl) URL.revokeObjectURL(bench.shownUrl);
      bench.shownUrl = url;
    });
  } catch (error) {
    entry.error = String(error);
    entry.done = true;
    bench.errors.push(String(error));
    status.textContent = `Error: ${error}`;
  }
});

bench.marks.interactive = performance.now();
bench.info = {
  isolated: crossOriginIsolated,
  threads: navigator.hardwareConcurrency,
  ort: ort.env.versions?.web ?? "?",
  model: config.model,
};
status.textContent = "Loading the model…";
preload(config).then(
  () => {
    bench.marks.ready = performance.now();
    bench.info.ort_threads = ort.env.wasm.numThreads;
    status.textContent = "Ready.";
  },
  (error) => {
    bench.errors.push(String(error));
    status.textContent = `Error: ${error}`;
  },
);
