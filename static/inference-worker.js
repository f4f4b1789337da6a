// The inference worker: the only file that imports onnxruntime-web. It owns the
// inference sessions in a thread of their own, so a model opens while Python is still
// starting in the Pyodide worker, and serializes every session call through one promise
// chain (ONNX Runtime sessions are not re-entrant).
//
// Started as a module worker whose name is the BroadcastChannel its clients call it on
// (static/ort-bridge.js; requests {id, op, args}, replies {id, ok, result | error} and
// {id, progress: [received, total]}). Whoever starts it may also, by postMessage, have it
// open the model the page is sure of at once ({op: "open", args}); the first client to
// open that same file takes the session over, and one that opens another file has it
// released. Models are read through static/model-store.js (cached, checked).
//
// Two builds of ONNX Runtime Web, each imported only when first needed:
// ort.wasm.min.mjs (WebAssembly) and ort.webgpu.min.mjs (WebGPU, with its own
// WebAssembly for what WebGPU does not run).

import { loadModel, readModel } from "./model-store.js";

const isolated = Boolean(globalThis.crossOriginIsolated);
const BUILDS = { wasm: "../vendor/ort/ort.wasm.min.mjs", webgpu: "../vendor/ort/ort.webgpu.min.mjs" };
const runtimes = {};
const siteRoot = new URL("../", import.meta.url);

function runtime(backend) {
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
// ONNX Runtime's WebAssembly and starts its threads (measured: the first session paid
// about 1.7 s for this). Failures are left for the real session to meet and report.
const WARM_UP_MODEL = "CAgSADo6ChAKAXgSAXkiCElkZW50aXR5EgR3YXJtWg8KAXgSCgoICAESBAoCCAFiDwoBeRIKCggIARIECgIIAUIECgAQDQ==";
serialized(async () => {
  const ort = await runtime("wasm");
  const bytes = Uint8Array.from(atob(WARM_UP_MODEL), (c) => c.charCodeAt(0));
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  await session.release();
}).catch(() => {});

// -- sessions, by number --------------------------------------------------------------
const sessions = new Map();
let lastSession = 0;

// Open `modelBytes` on `backend` ("wasm" or "webgpu"); returns {session, info}.
function create(modelBytes, backend) {
  return serialized(async () => {
    const ort = await runtime(backend);
    const session = await ort.InferenceSession.create(modelBytes, {
      executionProviders: [backend],
      graphOptimizationLevel: "all",
    });
    lastSession += 1;
    const threads = backend === "wasm" ? ort.env.wasm.numThreads : 0;
    const info = { session: lastSession, backend, threads, isolated, version: ort.env.versions.web };
    sessions.set(lastSession, { session, ort, info });
    return info;
  });
}

function release(number) {
  return serialized(async () => {
    const entry = sessions.get(number);
    sessions.delete(number);
    if (entry) await entry.session.release();
  });
}

// `path` (relative to the site root; exactly `expectedBytes` long, SHA-256 `expectedSha256`)
// opened on `backend`. A copy read from this device's cache has its SHA-256 checked while
// ONNX Runtime opens it (on every visit; the two overlap, the check runs off this thread);
// a damaged copy costs the opened session and is downloaded again.
async function open(path, expectedBytes, expectedSha256, backend, onProgress) {
  const { bytes, verified } = await readModel(path, expectedBytes, expectedSha256, onProgress);
  const opening = create(bytes, backend);
  try {
    await verified;
  } catch {
    opening.then((info) => release(info.session), () => {});
    return create(await loadModel(path, expectedBytes, expectedSha256, onProgress), backend);
  }
  return opening;
}

// The session opened before any client asked (the page's early request), until one does.
let early = null; // {key, opening: Promise<info>, listeners: Set, last: [received, total]}

function openKey(path, sha256, backend) {
  return `${path} ${sha256} ${backend}`;
}

function openEarly(path, expectedBytes, expectedSha256, backend, onProgress) {
  const listeners = new Set([onProgress]);
  const entry = { key: openKey(path, expectedSha256, backend), listeners, last: null };
  entry.opening = open(path, expectedBytes, expectedSha256, backend, (received, total) => {
    entry.last = [received, total];
    for (const listener of listeners) listener(received, total);
  });
  early = entry;
  return entry.opening;
}

// A client's open: the early session if it is the same file on the same back-end (its
// progress from now on, the last figure at once), else a session of its own (and the early
// one, which nobody will ask for now, is released).
function openForClient(path, expectedBytes, expectedSha256, backend, onProgress) {
  const taken = early;
  early = null;
  if (taken && taken.key === openKey(path, expectedSha256, backend)) {
    if (taken.last) onProgress(...taken.last);
    taken.listeners.add(onProgress);
    // A failed early open is not the last word: the client's own attempt says what is wrong.
    return taken.opening.catch(() => open(path, expectedBytes, expectedSha256, backend, onProgress));
  }
  taken?.opening.then((info) => release(info.session), () => {});
  return open(path, expectedBytes, expectedSha256, backend, onProgress);
}

function run(number, inputName, outputName, data, dims) {
  return serialized(async () => {
    const entry = sessions.get(number);
    if (!entry) throw new Error("the model was closed");
    const input = new entry.ort.Tensor("float32", data, dims);
    const results = await entry.session.run({ [inputName]: input }, [outputName]);
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
async function probe(f16) {
  const folder = new URL("models/probe/", siteRoot);
  const bytes = async (name) => {
    const response = await fetch(new URL(name, folder));
    if (!response.ok) throw new Error(`could not download the WebGPU probe's ${name}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  };
  const [model, input, expected] = await Promise.all([
    bytes(f16 ? "probe-float16.onnx" : "probe-float32.onnx"), bytes("probe-input.bin"), bytes("probe-expected.bin"),
  ]);
  const info = await create(model, "webgpu");
  try {
    const size = Math.round(Math.sqrt(input.length / 4 / 3));
    const output = await run(info.session, "input", "output", new Float32Array(input.buffer), [1, 3, size, size]);
    return { output, expected: new Float32Array(expected.buffer) };
  } finally {
    await release(info.session);
  }
}

// -- messages ---------------------------------------------------------------------------
const OPERATIONS = {
  create: (modelBytes, backend) => create(modelBytes, backend),
  open: (path, expectedBytes, expectedSha256, backend, onProgress) =>
    openForClient(path, expectedBytes, expectedSha256, backend, onProgress),
  run,
  release,
  probe,
  ping: async () => "pong",
};

function answer(reply, { id, op, args }) {
  const onProgress = (received, total) => reply({ id, progress: [received, total] });
  Promise.resolve()
    .then(() => OPERATIONS[op](...(op === "open" ? [...args, onProgress] : args)))
    .then(
      (result) => reply({ id, ok: true, result }),
      (error) => reply({ id, ok: false, error: String(error?.message || error) }),
    );
}

const channel = new BroadcastChannel(self.name);
channel.onmessage = (event) => answer((message) => channel.postMessage(message), event.data);

// From whoever started this worker: the model it is sure of, opened now (progress and the
// outcome go back to it).
self.onmessage = (event) => {
  const { id, op, args } = event.data;
  if (op !== "open") return;
  const reply = (message) => self.postMessage(message);
  openEarly(...args, (received, total) => reply({ id, progress: [received, total] })).then(
    (result) => reply({ id, ok: true, result }),
    (error) => reply({ id, ok: false, error: String(error?.message || error) }),
  );
};
