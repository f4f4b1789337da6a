// The ONNX Runtime Web bridge: the only file that imports onnxruntime-web.
//
// Runs inside the Pyodide worker; `app/runtime/ort_web.py` is its only caller.
// It hands out the model files (static/model-store.js: cached, checked), owns the
// inference sessions, and serializes every session call through one promise
// chain (ONNX Runtime sessions are not re-entrant). Data crosses as whole
// typed arrays, never element by element.
//
// Two builds of ONNX Runtime Web, each imported only when first needed:
// ort.wasm.min.mjs (WebAssembly) and ort.webgpu.min.mjs (WebGPU, with its own
// WebAssembly for what WebGPU does not run).

import { loadModel, readModel } from "./model-store.js";

const isolated = Boolean(globalThis.crossOriginIsolated);
const BUILDS = { wasm: "../vendor/ort/ort.wasm.min.mjs", webgpu: "../vendor/ort/ort.webgpu.min.mjs" };
const runtimes = {};

async function runtime(backend) {
  if (!runtimes[backend]) {
    runtimes[backend] = import(BUILDS[backend]).then((ort) => {
      ort.env.wasm.wasmPaths = new URL("../vendor/ort/", import.meta.url).href;
      // Threads need SharedArrayBuffer, which needs cross-origin isolation.
      ort.env.wasm.numThreads = isolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
      return ort;
    });
  }
  return runtimes[backend];
}
let queue = Promise.resolve();
function serialized(task) {
  const result = queue.then(task);
  queue = result.catch(() => {});
  return result;
}

// WebAssembly is needed in every case (it is also the fallback): load its build now, and
// open a one-node network (y = Identity(x), 70 bytes) at once, which downloads and compiles
// ONNX Runtime's WebAssembly and starts its threads while Python is still importing the
// app (measured: the first session paid about 1.7 s for this). Failures are left for the
// real session to meet and report.
const WARM_UP_MODEL = "CAgSADo6ChAKAXgSAXkiCElkZW50aXR5EgR3YXJtWg8KAXgSCgoICAESBAoCCAFiDwoBeRIKCggIARIECgIIAUIECgAQDQ==";
serialized(async () => {
  const ort = await runtime("wasm");
  const bytes = Uint8Array.from(atob(WARM_UP_MODEL), (c) => c.charCodeAt(0));
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  await session.release();
}).catch(() => {});

// The site's root: models live in <root>/models/.
const siteRoot = new URL("../", import.meta.url);

// Download `path` (relative to the site root; exactly `expectedBytes` long, SHA-256 `expectedSha256`),
// or read it from Cache Storage, calling onProgress(received, total) (static/model-store.js).
export { loadModel as fetchModel } from "./model-store.js";
export { webgpuSupport } from "./webgpu-support.js";

// Open a session of `modelBytes` on `backend` ("wasm" or "webgpu"); returns a handle for run().
export function createSession(modelBytes, backend = "wasm") {
  return serialized(async () => {
    const ort = await runtime(backend);
    const session = await ort.InferenceSession.create(modelBytes, {
      executionProviders: [backend],
      graphOptimizationLevel: "all",
    });
    return { session, ort, backend };
  });
}

// `path` (as fetchModel) opened on `backend`. A copy read from this device's cache has its
// SHA-256 checked while ONNX Runtime opens it (on every visit; the two overlap, the check
// runs off this thread); a damaged copy costs the opened session and is downloaded again.
export async function openModel(path, expectedBytes, expectedSha256, onProgress, backend = "wasm") {
  const { bytes, verified } = await readModel(path, expectedBytes, expectedSha256, onProgress);
  const opening = createSession(bytes, backend);
  try {
    await verified;
  } catch {
    opening.then(releaseSession, () => {});
    return createSession(await loadModel(path, expectedBytes, expectedSha256, onProgress), backend);
  }
  return opening;
}

export function releaseSession(handle) {
  return serialized(() => handle.session.release());
}

export function backendInfo(handle) {
  const threads = handle.backend === "wasm" ? handle.ort.env.wasm.numThreads : 0;
  return { backend: handle.backend, threads, isolated, version: handle.ort.env.versions.web };
}

// Run `handle`'s session on one float32 input of shape `dims`; returns the named output's data.
export function run(handle, inputName, outputName, data, dims) {
  return serialized(async () => {
    const input = new handle.ort.Tensor("float32", data, dims);
    const results = await handle.session.run({ [inputName]: input }, [outputName]);
    const output = results[outputName];
    input.dispose();
    const values = await output.getData(); // one read, wherever the backend left it
    output.dispose();
    return values;
  });
}

// The WebGPU probe (builder/probe_model.py): run the small network with every kind of
// layer ISNet has on WebGPU; returns {output, expected} (Float32Array) for the caller to
// compare. `f16`: the 16-bit network, as the model that will run computes.
export async function runProbe(f16) {
  const folder = new URL("models/probe/", siteRoot);
  const bytes = async (name) => {
    const response = await fetch(new URL(name, folder));
    if (!response.ok) throw new Error(`could not download the WebGPU probe's ${name}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  };
  const [model, input, expected] = await Promise.all([
    bytes(f16 ? "probe-float16.onnx" : "probe-float32.onnx"), bytes("probe-input.bin"), bytes("probe-expected.bin"),
  ]);
  const handle = await createSession(model, "webgpu");
  try {
    const size = Math.round(Math.sqrt(input.length / 4 / 3));
    const output = await run(handle, "input", "output", new Float32Array(input.buffer), [1, 3, size, size]);
    return { output, expected: new Float32Array(expected.buffer) };
  } finally {
    await releaseSession(handle);
  }
}
