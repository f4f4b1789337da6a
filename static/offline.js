// The page's side of the installable, offline app: registers the service worker (sw.js,
// rendered from static/service-worker.js), says how far saving the app for offline use is
// and, once, that it works offline; offers an update instead of swapping versions under the
// user; shows the privacy check computed from every request the service worker saw; and
// hands photos opened with the installed app ("Open with", share) to the page's file input,
// where app/ui/main.py takes them like a chosen file.
//
// Its messages live here (app/ui/text.py holds the Python UI's). Loaded as a module by
// index.html; imports static/early-input.js (how files reach the page).

import { giveToPage } from "./early-input.js";

const ANNOUNCED_KEY = "cutout.offline-announced";  // localStorage: the version announced
const SHARED_CACHE = "cutout-shared";              // static/service-worker.js's, same name

const offlineLine = document.getElementById("offline");
const privacyLine = document.getElementById("privacy");
const updateBar = document.getElementById("update");

function megabytes(bytes) {
  return (bytes / 1e6).toFixed(1);
}

// -- privacy check: every request the service worker saw, from this page on ------------
const seen = { total: 0, elsewhere: 0, uploads: 0 };
const since = navigator.serviceWorker && navigator.serviceWorker.controller
  ? "since this page opened" : "since the check started";

function showPrivacy() {
  if (!navigator.serviceWorker || !navigator.serviceWorker.controller) {
    privacyLine.textContent = "Privacy check: starts once the app is saved for offline use.";
    return;
  }
  const where = seen.elsewhere === 0 ? "all from this site" : `${seen.elsewhere} of them to other sites`;
  const uploads = seen.uploads === 0 ? "nothing uploaded" : `${seen.uploads} uploads`;
  privacyLine.textContent = `Privacy check ${since}: ${seen.total} requests, ${where}; ${uploads}.`;
  privacyLine.dataset.requests = String(seen.total);
  privacyLine.dataset.elsewhere = String(seen.elsewhere);
  privacyLine.dataset.uploads = String(seen.uploads);
}

new BroadcastChannel("cutout-requests").addEventListener("message", ({ data }) => {
  seen.total += 1;
  if (!data.sameOrigin) seen.elsewhere += 1;
  if (data.upload) seen.uploads += 1;
  scheduleShowPrivacy();
});

let privacyPending = false;
function scheduleShowPrivacy() {  // at most once a frame: the page loads dozens of files at once
  if (privacyPending) return;
  privacyPending = true;
  requestAnimationFrame(() => { privacyPending = false; showPrivacy(); });
}

// -- offline: install progress, ready once, update offered ------------------------------
function sayOffline(text, state) {
  offlineLine.textContent = text;
  offlineLine.dataset.state = state;
}

async function askStatus() {
  const controller = navigator.serviceWorker.controller;
  if (controller) controller.postMessage("status");
}

function onStatus(status) {
  if (status.cachedFiles < status.files) return;  // still installing: progress says so
  if (!status.model) {
    sayOffline("Saved for offline use except the model, which is kept once it has downloaded.", "model");
    return;
  }
  if (offlineLine.dataset.state === "ready") return;
  if (localStorage.getItem(ANNOUNCED_KEY) !== status.version) {  // said once per version
    localStorage.setItem(ANNOUNCED_KEY, status.version);
    sayOffline("Ready to work offline: Cutout now opens and cuts out photos without a connection.", "ready");
  } else {
    sayOffline("Works offline.", "ready");
  }
}

function offerUpdate(worker) {
  updateBar.hidden = false;
  updateBar.querySelector("button").onclick = () => {
    updateBar.querySelector("button").disabled = true;
    navigator.serviceWorker.addEventListener("controllerchange", () => location.reload());
    worker.postMessage("skip-waiting");
  };
}

new BroadcastChannel("cutout-offline").addEventListener("message", ({ data }) => {
  if (data.type === "installing" && data.done < data.total) {
    sayOffline(`Saving the app for offline use: ${megabytes(data.done)} of ${megabytes(data.total)} MB`, "installing");
  } else if (data.type === "install-failed") {
    sayOffline(`Could not save the app for offline use (${data.error}); it will try again on the next visit.`, "failed");
  } else if (data.type === "activated" || data.type === "model-stored") {
    askStatus();
  }
});

async function register() {
  if (!navigator.serviceWorker) {
    sayOffline("This browser cannot keep the app for offline use.", "unsupported");
    showPrivacy();
    return;
  }
  navigator.serviceWorker.addEventListener("message", ({ data }) => data.type === "status" && onStatus(data));
  try {
    const registration = await navigator.serviceWorker.register("./sw.js", { scope: "./", updateViaCache: "none" });
    const hadController = Boolean(navigator.serviceWorker.controller);
    if (registration.waiting && hadController) offerUpdate(registration.waiting);
    registration.addEventListener("updatefound", () => {
      const worker = registration.installing;
      worker.addEventListener("statechange", () => {
        if (worker.state === "installed" && navigator.serviceWorker.controller) offerUpdate(worker);
      });
    });
    navigator.serviceWorker.addEventListener("controllerchange", () => { showPrivacy(); askStatus(); });
    askStatus();
  } catch (error) {
    sayOffline(`This page cannot be kept for offline use here (${error.message}).`, "unsupported");
  }
  showPrivacy();
}

// -- photos from the system: "Open with" (file_handlers) and share (share_target) -------
async function takeShared() {
  const count = Number(new URLSearchParams(location.search).get("shared") || 0);
  if (!count || !globalThis.caches) return;
  const cache = await caches.open(SHARED_CACHE);
  const files = [];
  for (const request of await cache.keys()) {
    const response = await cache.match(request);
    const name = decodeURIComponent(response.headers.get("X-File-Name") || "shared photo");
    files.push(new File([await response.blob()], name, { type: response.headers.get("Content-Type") }));
    await cache.delete(request);
  }
  history.replaceState(null, "", location.pathname);
  giveToPage(files);
}

if ("launchQueue" in window) {
  window.launchQueue.setConsumer(async (params) => {
    giveToPage(await Promise.all(params.files.map((handle) => handle.getFile())));
  });
}

// Saving ~35 MB for offline use waits until the engine is ready (the page names it in
// #engine) and no photo is being worked on, so that a first visit and its first cutout
// are as fast as they can be; at the latest two minutes after the page loaded. A page
// already controlled registers at once (an update check only).
function registerWhenIdle() {
  const engine = document.getElementById("engine");
  const result = document.getElementById("result");
  const idle = () => engine.textContent && result.getAttribute("aria-busy") !== "true";
  let done = false;
  const go = () => { if (!done) { done = true; observer.disconnect(); register(); } };
  const observer = new MutationObserver(() => idle() && go());
  if (idle() || (navigator.serviceWorker && navigator.serviceWorker.controller)) return go();
  observer.observe(engine, { childList: true, characterData: true, subtree: true });
  observer.observe(result, { attributes: true, attributeFilter: ["aria-busy"] });
  setTimeout(go, 120_000);
}

showPrivacy();
takeShared();
registerWhenIdle();
