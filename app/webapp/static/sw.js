// The service worker: the app shell from its cache (a new version of any file is a new worker, which fetches the
// new shell), the API's reads network-first with the last answer kept for offline use. Writes are never touched
// here: the page keeps them in its outbox and sends them itself, so it always knows what happened to them. Web Push
// messages (workers/push.py) become notifications; tapping one opens its screen.

const VERSION = "__APP_VERSION__";
const SHELL_FILES = __APP_FILES__; // every file the app is made of, listed by the server
const SHELL = `shell-${VERSION}`;
const DATA = "api-data"; // the last answer to each GET of the API, for offline use; the page empties it on sign-out
const NETWORK_WAIT_MS = 4000; // patchy Wi-Fi: after this, the saved answer is better than a spinner

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(["./", ...SHELL_FILES])).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith("shell-") && n !== SHELL).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  const app = new URL("./", self.registration.scope);
  if (url.origin !== app.origin) return;
  if (url.pathname.startsWith(new URL("../api/", app).pathname)) {
    // Never the event stream: it does not end, so it can be neither kept nor waited for.
    if (!/\/writebacks\/[^/]+$|\/events$/.test(url.pathname)) event.respondWith(networkFirst(request));
  } else if (url.pathname.startsWith(app.pathname) && !url.pathname.endsWith("/config.json")) {
    event.respondWith(shellFirst(request));
  }
});

async function shellFirst(request) {
  const cache = await caches.open(SHELL);
  // Navigations (the sign-in redirect comes back with ?code=) all get the one page. ignoreVary: a module script's
  // request carries an Origin header the cached one did not (the server varies on Origin for CORS).
  const navigation = request.mode === "navigate";
  const cached = await cache.match(navigation ? "./" : request, { ignoreSearch: navigation, ignoreVary: true });
  return cached || fetch(request);
}

async function networkFirst(request) {
  if (request.cache === "no-store") return fetch(request); // asked for the API's own answer (the sign-in probe)
  const cache = await caches.open(DATA);
  const saved = await cache.match(request, { ignoreVary: true });
  try {
    // Only with a saved answer to fall back on does a slow network give up early.
    const response = await (saved ? withTimeout(fetch(request), NETWORK_WAIT_MS) : fetch(request));
    if (response.ok) await cache.put(request, await stamped(response.clone()));
    return response;
  } catch (error) {
    // Another user's token does not matter here: sign-out (and another user signing in) empties this cache.
    if (saved) return saved;
    throw error;
  }
}

/** The copy records when it was fetched, so the app can say "as of 10:42". */
function stamped(response) {
  const headers = new Headers(response.headers);
  headers.set("X-App-Cached-At", new Date().toISOString());
  return response.blob().then((body) => new Response(body, { status: response.status, statusText: response.statusText, headers }));
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new TypeError("network too slow")), ms);
    promise.then((value) => { clearTimeout(timer); resolve(value); }, (error) => { clearTimeout(timer); reject(error); });
  });
}

self.addEventListener("push", (event) => {
  let message = {};
  try {
    message = event.data?.json() ?? {};
  } catch {
    // not ours, or not JSON: a plain notice rather than none (a push must show something)
  }
  event.waitUntil(self.registration.showNotification(message.title || "SAP extension", {
    body: message.body || "",
    icon: new URL("icons/icon-192.png", self.registration.scope).href,
    tag: message.id, // the event id: the same event pushed twice shows once
    data: { url: message.url },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openApp(event.notification.data?.url));
});

/** The app's screen for a notification: in a window already open on the app, else a new one. */
async function openApp(link) {
  const app = new URL("./", self.registration.scope);
  let target = new URL(link || "./", app);
  if (target.origin !== app.origin) target = app; // only ever the app itself
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((client) => client.url.startsWith(app.href));
  if (!open) return self.clients.openWindow(target.href);
  open.postMessage({ type: "open", url: target.href }); // main.js shows that screen
  return open.focus();
}
