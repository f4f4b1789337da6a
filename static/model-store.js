// The model files: downloaded once, kept in Cache Storage by content hash, checked on
// every read (a cached copy while the model opens: static/inference-worker.js).
//
// The inference worker (static/inference-worker.js) asks for a model through readModel()
// or loadModel(), opening it early when the page is sure which one (app/ui/main.py). A Web
// Lock per file makes a second asker (another tab) wait for the first one's download
// instead of starting its own, and a BroadcastChannel per file carries the download's
// progress to whoever waits. A repeat visit reads the file from the cache.
// Without Cache Storage (a page that is not a secure context) or with a full quota it
// downloads as before: the cache only ever saves time.

const CACHE_NAME = "cutout-models";  // static/service-worker.js cleans old versions out of it
const OFFLINE_CHANNEL = "cutout-offline";  // static/offline.js: "can this device work offline?"
const siteRoot = new URL("../", import.meta.url);

// The cache entry of one version of a file: its URL with the content hash as the query.
function cacheKey(url, sha256) {
  return `${url}?sha256=${sha256}`;
}

function toHex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function check(bytes, url, expectedSha256) {
  const actual = toHex(await crypto.subtle.digest("SHA-256", bytes));
  if (actual !== expectedSha256) {
    throw new Error(`${url} is damaged: SHA-256 ${actual}, expected ${expectedSha256}`);
  }
  return bytes;
}

async function openCache() {
  try {
    return globalThis.caches ? await caches.open(CACHE_NAME) : null;
  } catch {
    return null; // storage disabled or unavailable: download every time
  }
}

// The cached copy of `key` if it is whole, as {bytes, verified}: `verified` settles once its
// SHA-256 is checked (the caller may open the model meanwhile) and rejects for a damaged
// copy, which is then removed. Null if there is none, or it has the wrong size.
async function readCached(cache, key, url, expectedBytes, expectedSha256) {
  const response = cache && (await cache.match(key));
  if (!response) return null;
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length !== expectedBytes) {
    await cache.delete(key);
    return null;
  }
  const verified = check(bytes, url, expectedSha256).catch(async (error) => {
    await cache.delete(key);
    throw error;
  });
  verified.catch(() => {}); // a caller that stops waiting leaves no unhandled rejection
  return { bytes, verified };
}

// Keep `bytes` under `key`, and drop other versions of the same file. Never fails.
async function store(cache, key, path, bytes) {
  if (!cache) return;
  try {
    await cache.put(key, new Response(bytes, { headers: { "Content-Type": "application/octet-stream" } }));
    if (globalThis.BroadcastChannel) new BroadcastChannel(OFFLINE_CHANNEL).postMessage({ type: "model-stored" });
    for (const request of await cache.keys()) {
      if (new URL(request.url).pathname === new URL(key).pathname && request.url !== key) {
        await cache.delete(request);
      }
    }
  } catch (error) {
    console.warn(`model-store: could not keep ${path} for the next visit: ${error.message || error}`);
  }
}

async function download(url, expectedBytes, expectedSha256, onProgress) {
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
  return check(buffer, url, expectedSha256);
}

// Under the file's lock (if this browser has Web Locks), calling onWaiting() first if
// another page or worker holds it.
async function exclusively(name, onWaiting, task) {
  if (!globalThis.navigator?.locks) return task();
  const free = await navigator.locks.request(name, { ifAvailable: true }, async (lock) => (lock ? { value: await task() } : null));
  if (free) return free.value;
  onWaiting();
  return navigator.locks.request(name, task);
}

// `path` (relative to the site root; exactly `expectedBytes` long, SHA-256 `expectedSha256`)
// as {bytes, verified}: from Cache Storage, or downloaded (by this caller or one already at
// it), calling onProgress(received, total) at most every 100 ms and at the end. `verified`
// resolves once the bytes' SHA-256 is checked: at once for a download (checked before it is
// kept); for a cached copy, a check still running, which rejects if the copy is damaged (it
// is then gone from the cache: asking again downloads the file).
export async function readModel(path, expectedBytes, expectedSha256, onProgress) {
  const url = new URL(path, siteRoot).href;
  const key = cacheKey(url, expectedSha256);
  const channelName = `cutout-model-${expectedSha256}`;
  const relay = globalThis.BroadcastChannel ? new BroadcastChannel(channelName) : null;
  try {
    return await exclusively(
      channelName,
      () => {
        if (relay) relay.onmessage = (event) => onProgress(event.data.received, event.data.total);
      },
      async () => {
        if (relay) relay.onmessage = null;
        const cache = await openCache();
        const cached = await readCached(cache, key, url, expectedBytes, expectedSha256);
        if (cached) {
          onProgress(expectedBytes, expectedBytes);
          return cached;
        }
        const bytes = await download(url, expectedBytes, expectedSha256, (received, total) => {
          onProgress(received, total);
          relay?.postMessage({ received, total });
        });
        await store(cache, key, path, bytes);
        return { bytes, verified: Promise.resolve() };
      },
    );
  } finally {
    relay?.close();
  }
}

// readModel's bytes once they are checked (a damaged cached copy is downloaded again).
export async function loadModel(path, expectedBytes, expectedSha256, onProgress) {
  const first = await readModel(path, expectedBytes, expectedSha256, onProgress);
  try {
    await first.verified;
    return first.bytes;
  } catch {
    return (await readModel(path, expectedBytes, expectedSha256, onProgress)).bytes;
  }
}
