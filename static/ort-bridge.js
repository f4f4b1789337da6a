// The ONNX Runtime Web bridge: the only file that imports onnxruntime-web.
//
// Runs inside the Pyodide worker; `app/runtime/ort_web.py` is its only caller.
// It downloads a model with byte progress and checks its SHA-256, owns the
// inference sessions, and serializes every session call through one promise
// chain (ONNX Runtime sessions are not re-entrant). Data crosses as whole
// typed arrays, never element by element.
import * as ort from "../vendor/ort/ort.wasm.min.mjs";

const isolated = Boolean(globalThis.crossOriginIsolated);
ort.env.wasm.wasmPaths = new URL("../vendor/ort/", import.meta.url).href;
// Threads need SharedArrayBuffer, which needs cross-origin isolation.
ort.env.wasm.numThreads = isolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;

let queue = Promise.resolve();
function serialized(task) {
  const result = queue.then(task);
  queue = result.catch(() => {});
  return result;
}

function toHex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

// The site's root: models live in <root>/models/.
const siteRoot = new URL("../", import.meta.url);

// Download `path` (relative to the site root; exactly `expectedBytes` long, SHA-256 `expectedSha256`),
// calling onProgress(received, total) at most every 100 ms and at the end.
export async function fetchModel(path, expectedBytes, expectedSha256, onProgress) {
  const url = new URL(path, siteRoot).href;
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`could not download ${url}: HTTP ${response.status}`);
  }
  const buffer = new Uint8Array(expectedBytes);
  const reader = response.body.getReader();
  let received = 0;
  let reported = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.length > expectedBytes) {
      await reader.cancel();
      throw new Error(`${url} is larger than the expected ${expectedBytes} bytes`);
    }
    buffer.set(value, received);
    received += value.length;
    const now = performance.now();
    if (now - reported > 100) {
      reported = now;
      onProgress(received, expectedBytes);
    }
  }
  onProgress(received, expectedBytes);
  if (received !== expectedBytes) {
    throw new Error(`${url} ended after ${received} of ${expectedBytes} bytes`);
  }
  const actual = toHex(await crypto.subtle.digest("SHA-256", buffer));
  if (actual !== expectedSha256) {
    throw new Error(`${url} is damaged: SHA-256 ${actual}, expected ${expectedSha256}`);
  }
  return buffer;
}

export function createSession(modelBytes) {
  return serialized(() =>
    ort.InferenceSession.create(modelBytes, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    }),
  );
}

export function releaseSession(session) {
  return serialized(() => session.release());
}

export function backendInfo() {
  return { backend: "wasm", threads: ort.env.wasm.numThreads, isolated, version: ort.env.versions.web };
}

// Run `session` on one float32 input of shape `dims`; returns the named output's data.
export function run(session, inputName, outputName, data, dims) {
  return serialized(async () => {
    const input = new ort.Tensor("float32", data, dims);
    const results = await session.run({ [inputName]: input }, [outputName]);
    const output = results[outputName];
    input.dispose();
    return output.data;
  });
}
