// What this browser's WebGPU offers: {available, f16, software, reason}. Used by the
// worker's bridge (static/ort-bridge.js; app/core/backends.py decides from it) and by the
// page, which downloads the model early only where WebGPU cannot run (app/ui/prefetch.py).
export async function webgpuSupport() {
  if (!globalThis.navigator?.gpu) {
    return { available: false, reason: "this browser has no WebGPU" };
  }
  let adapter = null;
  try {
    adapter = await navigator.gpu.requestAdapter();
  } catch (error) {
    return { available: false, reason: `WebGPU refused an adapter: ${error.message || error}` };
  }
  if (!adapter) {
    return { available: false, reason: "WebGPU found no usable graphics adapter" };
  }
  const info = adapter.info || {};
  return {
    available: true,
    f16: adapter.features.has("shader-f16"),
    software: Boolean(info.isFallbackAdapter) || info.architecture === "swiftshader",
    reason: "",
  };
}
