// The ONNX Runtime Web bridge: how the Pyodide worker reaches the inference worker.
//
// Runs inside the Pyodide worker; `app/runtime/ort_web.py` is its only caller (tests and
// benches also import it in a page). ONNX Runtime itself runs in static/inference-worker.js,
// in a thread of its own: the page starts that worker at once, so the model opens while
// Python starts, and names it here through useInferenceWorker(); without a name the bridge
// starts its own on first use. Calls go over the BroadcastChannel named as the worker; data
// crosses as whole typed arrays (cloned), never element by element. A session is a handle
// {session, backend, threads, isolated, version}.

export { webgpuSupport } from "./webgpu-support.js";

const WORKER_URL = new URL("./inference-worker.js", import.meta.url);
const ANSWER_SECONDS = 20; // a worker that has not answered a ping by then is not there

let connection = null; // Promise<{call}>
let lastCall = 0;
const caller = Math.random().toString(36).slice(2); // this bridge's calls, told from any other's

function connect(name) {
  const channel = new BroadcastChannel(name);
  const pending = new Map();
  channel.onmessage = ({ data }) => {
    const waiting = pending.get(data.id);
    if (!waiting) return;
    if (data.progress) {
      waiting.onProgress?.(...data.progress);
      return;
    }
    pending.delete(data.id);
    if (data.ok) waiting.resolve(data.result);
    else waiting.reject(new Error(data.error));
  };
  const call = (op, args = [], onProgress = null) =>
    new Promise((resolve, reject) => {
      lastCall += 1;
      const id = `${caller}-${lastCall}`;
      pending.set(id, { resolve, reject, onProgress });
      channel.postMessage({ id, op, args });
    });
  const fail = (error) => {
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
  };
  return { call, fail };
}

// Whether the worker on `link` answers within ANSWER_SECONDS (a BroadcastChannel keeps
// nothing for a listener that is not there yet: ask until it is).
function answers(link) {
  return new Promise((resolve) => {
    const settle = (answered) => {
      clearInterval(asking);
      clearTimeout(giveUp);
      resolve(answered);
    };
    const ask = () => link.call("ping").then(() => settle(true), () => {});
    const asking = setInterval(ask, 100);
    const giveUp = setTimeout(() => settle(false), ANSWER_SECONDS * 1000);
    ask();
  });
}

async function startOwnWorker() {
  const name = `cutout-inference-${caller}`;
  const worker = new Worker(WORKER_URL, { type: "module", name });
  const link = connect(name);
  let failure = null;
  worker.addEventListener("error", (event) => {
    failure = new Error(`the inference worker failed: ${event.message || "it could not start"}`);
    link.fail(failure);
  });
  if (!(await answers(link))) throw failure || new Error("the inference worker did not start");
  return link;
}

// Use the inference worker the page started (`name`) if it answers, else one of our own.
export function useInferenceWorker(name) {
  if (connection || !name) return;
  connection = (async () => {
    const link = connect(name);
    return (await answers(link)) ? link : startOwnWorker();
  })();
}

function inference() {
  if (!connection) {
    connection = startOwnWorker().catch((error) => {
      connection = null; // the next call tries again
      throw error;
    });
  }
  return connection;
}

async function call(op, args, onProgress) {
  return (await inference()).call(op, args, onProgress);
}

// Open `modelBytes` (a Uint8Array) on `backend` ("wasm" or "webgpu"); returns a handle for run().
export function createSession(modelBytes, backend = "wasm") {
  return call("create", [modelBytes, backend]);
}

// `path` (relative to the site root; exactly `expectedBytes` long, SHA-256 `expectedSha256`),
// downloaded or read from this device's cache (static/model-store.js), checked and opened
// on `backend`, calling onProgress(received, total) while it downloads.
export function openModel(path, expectedBytes, expectedSha256, onProgress, backend = "wasm") {
  return call("open", [path, expectedBytes, expectedSha256, backend], (received, total) => onProgress(received, total));
}

export function releaseSession(handle) {
  return call("release", [handle.session]);
}

export function backendInfo(handle) {
  const { backend, threads, isolated, version } = handle;
  return { backend, threads, isolated, version };
}

// Run `handle`'s session on one float32 input of shape `dims`; returns the named output's data.
export function run(handle, inputName, outputName, data, dims) {
  return call("run", [handle.session, inputName, outputName, data, Array.from(dims)]);
}

// The WebGPU probe (builder/probe_model.py), in the inference worker: {output, expected}
// (Float32Array) for the caller to compare. `f16`: the 16-bit network.
export function runProbe(f16) {
  return call("probe", [Boolean(f16)]);
}
