// The service worker: the app works offline, is cross-origin isolated on any static host,
// receives photos shared to it, and reports every request the app makes.
//
// The build renders this file to sw.js at the site root (builder/webapp.py) and puts BUILD
// in place of the comment below: the files to precache with their sha256, the version
// (a hash of that list: the cache's name), the models' sha256, the headers to add, the
// content types by suffix (builder/serve.py's) and the share target's path.
//
// - install: every listed file into the cache "cutout-shell-<version>", each checked by
//   sha256; a file an older version already holds with the same hash is copied, not
//   downloaded. Progress goes to the page on the "cutout-offline" channel.
// - It never replaces a running version by itself: a new version waits until the page's
//   "Update" button sends "skip-waiting" (static/offline.js).
// - activate: older shell caches are deleted, and model versions no longer listed are
//   deleted from static/model-store.js's cache (the one place models are kept).
// - fetch: the app's files from the cache (the network if missing), each with the
//   cross-origin isolation headers and the Content-Security-Policy; models pass through
//   to static/model-store.js. Every request is reported on "cutout-requests".
/*{{BUILD}}*/

const SHELL_PREFIX = "cutout-shell-";
const SHELL = SHELL_PREFIX + BUILD.version;
const MODEL_CACHE = "cutout-models";    // static/model-store.js's CACHE_NAME (a unit test checks)
const SHARED_CACHE = "cutout-shared";   // photos shared to the app, until the page takes them
const SHA_HEADER = "X-Cutout-SHA256";   // on each cached response: which version of the file it is
const root = new URL("./", self.location.href);
const listed = new Map(BUILD.files.map((file) => [new URL(file.path, root).href, file]));
const offline = new BroadcastChannel("cutout-offline");
const requests = new BroadcastChannel("cutout-requests");

function toHex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(bytes) {
  return toHex(await crypto.subtle.digest("SHA-256", bytes));
}

// A copy of `file` from an older version's cache, if one has the same bytes.
async function fromOlderCache(file) {
  const url = new URL(file.path, root).href;
  for (const name of await caches.keys()) {
    if (!name.startsWith(SHELL_PREFIX) || name === SHELL) continue;
    const response = await (await caches.open(name)).match(url);
    if (response && response.headers.get(SHA_HEADER) === file.sha256) return response.arrayBuffer();
  }
  return null;
}

async function download(file) {
  const url = new URL(file.path, root).href;
  const response = await fetch(url, { cache: "no-cache" });
  if (!response.ok) throw new Error(`${file.path}: HTTP ${response.status}`);
  const bytes = await response.arrayBuffer();
  const actual = await sha256(bytes);
  if (actual !== file.sha256) {
    throw new Error(`${file.path} has SHA-256 ${actual}, this version lists ${file.sha256} (the site changed during the update)`);
  }
  return bytes;
}

function contentType(path) {
  return BUILD.types["." + path.split(".").pop().toLowerCase()] || "application/octet-stream";
}

// Kept with the headers it is served with, so that it is served exactly as stored (no
// response re-made on every fetch: the browser may keep compiled code beside a cached
// script or WebAssembly file, which a re-made response would not reach).
async function keep(cache, file, bytes) {
  const headers = { ...BUILD.headers, "Content-Type": contentType(file.path), [SHA_HEADER]: file.sha256 };
  await cache.put(new URL(file.path, root).href, new Response(bytes, { headers }));
}

async function precache() {
  const cache = await caches.open(SHELL);
  const total = BUILD.files.reduce((sum, file) => sum + file.bytes, 0);
  let done = 0;
  const queue = [...BUILD.files];
  async function worker() {
    for (let file = queue.shift(); file; file = queue.shift()) {
      const cached = await cache.match(new URL(file.path, root).href);
      if (!cached || cached.headers.get(SHA_HEADER) !== file.sha256) {
        await keep(cache, file, (await fromOlderCache(file)) || (await download(file)));
      }
      done += file.bytes;
      offline.postMessage({ type: "installing", version: BUILD.version, done, total });
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()]);
}

self.addEventListener("install", (event) => {
  event.waitUntil(precache().catch((error) => {
    offline.postMessage({ type: "install-failed", version: BUILD.version, error: String(error) });
    throw error;
  }));
});

async function deleteStale() {
  for (const name of await caches.keys()) {
    if (name.startsWith(SHELL_PREFIX) && name !== SHELL) await caches.delete(name);
  }
  const models = await caches.open(MODEL_CACHE);
  for (const request of await models.keys()) {
    if (!BUILD.models.includes(new URL(request.url).searchParams.get("sha256"))) await models.delete(request);
  }
}

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    await deleteStale();
    await self.clients.claim();
    offline.postMessage({ type: "activated", version: BUILD.version });
  })());
});

// Whether the app can start and cut out a photo without the network: every file cached,
// and a model (any version this build lists) in static/model-store.js's cache.
async function status() {
  const cache = await caches.open(SHELL);
  const cachedFiles = (await cache.keys()).length;
  const models = await (await caches.open(MODEL_CACHE)).keys();
  const model = models.some((request) => BUILD.models.includes(new URL(request.url).searchParams.get("sha256")));
  return { type: "status", version: BUILD.version, files: BUILD.files.length, cachedFiles, model };
}

self.addEventListener("message", (event) => {
  if (event.data === "skip-waiting") self.skipWaiting();
  if (event.data === "status") event.waitUntil(status().then((reply) => event.source.postMessage(reply)));
});

function withHeaders(response) {
  const headers = new Headers(response.headers);
  for (const [name, value] of Object.entries(BUILD.headers)) headers.set(name, value);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

// The page for the app's own address with any query (?model=..., ?shared=...), else the file.
function cacheKey(url) {
  if (url.pathname === root.pathname) return new URL("index.html", root).href;
  return url.origin + url.pathname;
}

async function respond(request, url) {
  const key = cacheKey(url);
  const cache = await caches.open(SHELL);
  const cached = await cache.match(key);
  if (cached) return cached;                     // stored with its headers (keep)
  const response = await fetch(request);
  const file = listed.get(key);
  const served = withHeaders(response);
  if (response.ok && file === undefined && url.pathname.endsWith(".wasm")) {
    // ONNX Runtime's build for graphics cards, not precached: kept the first time it is used.
    cache.put(key, served.clone()).catch(() => {});
  }
  return served;
}

// Photos shared to the installed app (the manifest's share_target): kept until the page,
// opened at ?shared=N, takes them (static/offline.js).
async function receiveShare(request) {
  const form = await request.formData();
  const photos = form.getAll("photos").filter((value) => typeof value !== "string");
  const cache = await caches.open(SHARED_CACHE);
  for (const [index, photo] of photos.entries()) {
    const headers = { "Content-Type": photo.type || "application/octet-stream", "X-File-Name": encodeURIComponent(photo.name) };
    await cache.put(new URL(`shared/${index}`, root).href, new Response(photo, { headers }));
  }
  return Response.redirect(new URL(`./?shared=${photos.length}`, root).href, 303);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  const sameOrigin = url.origin === self.location.origin;
  const shared = sameOrigin && request.method === "POST" && url.href === new URL(BUILD.shareTarget, root).href;
  requests.postMessage({
    sameOrigin,
    upload: !shared && request.method !== "GET" && request.method !== "HEAD",
    path: sameOrigin ? url.pathname : url.origin,
  });
  if (shared) {
    event.respondWith(receiveShare(request));
  } else if (sameOrigin && request.method === "GET" && !url.pathname.endsWith(".onnx")) {
    event.respondWith(respond(request, url));
  }
});
