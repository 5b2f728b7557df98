// The app shell: sign-in, one screen per route (#/work/1000123-0010), the roles' screens from their modules, the
// writeback strip above every screen, the offline banner and the outbox that empties itself when the API is back.
// Live events redraw the screen they concern, with a short notice of what changed in SAP (each role's module
// says which events concern which of its screens: its `changes`).

import { Api, ApiError } from "./api.js";
import { forget, lastUser, remember, signIn } from "./auth.js";
import { LiveEvents } from "./events.js";
import { renew as renewPushes, unsubscribe as stopPushes } from "./push.js";
import { button, format, h, replace, strip, title } from "./ui.js";
import { describe, forgetTracked, Tracker } from "./writebacks.js";
import activity from "./activity.js";
import executive from "./executive.js";
import plantManager from "./plant-manager.js";
import supervisor from "./supervisor.js";

const ROLE_SCREENS = [executive, plantManager, supervisor];
const SAVED_SCREENS = "api-data"; // the service worker's cache of the API's answers (sw.js)
const main = document.getElementById("main");
const strips = document.getElementById("activity");
const banner = document.getElementById("offline");
const NEWS_WAIT_MS = 300; // events that come together (an order released and changed) make one redraw, one notice
const ECHO_MS = 30_000; // SAP's event about the user's own action, this long after it: no notice, the strip said it

let ctx;
let rendering = 0;

async function boot() {
  registerServiceWorker();
  let session;
  try {
    session = await signIn();
  } catch (error) {
    const offline = error instanceof TypeError;
    return fail(offline ? "You are offline. Connect once to sign in; after that the app works offline too." : error.message);
  }
  const api = new Api(session, signInAgain);
  let me;
  try {
    ({ data: me } = await api.get("me"));
  } catch (error) {
    return fail(error instanceof TypeError ? "You are offline. Connect to sign in." : messageOf(error));
  }
  if (session.mode === "offline" && me.user !== session.user) return fail("You are offline. Connect to sign in.");
  if (session.mode !== "offline") {
    if (lastUser() !== me.user) await forgetSavedScreens(); // another user's, on a shared device
    remember(me.user);
  }
  api.user = me.user;
  const screens = ROLE_SCREENS.filter((screen) => me.roles.includes(screen.role));
  const tracker = new Tracker(api);
  // Signed in (not an offline start, which has no token): SAP's news as it happens.
  const events = session.mode === "offline" ? null : new LiveEvents(session, signInAgain);
  ctx = { api, me, session, tracker, events, screens, cachedAt: null };
  newsBox();
  if (events) {
    tracker.follow(events);
    events.on("*", heard);
    events.start();
    renewPushes(api); // the API pushes by this sign-in's roles and plants
  }
  shell(me, screens, session);
  tracker.on((item) => {
    renderStrips();
    // SAP's new state on the screen the action was taken on, unless the user is already filling in the next one.
    if (item.status === "succeeded" && item.route === location.hash && !main.querySelector("form[data-dirty]")) render();
  });
  api.on(() => { renderStrips(); renderBanner(); });
  main.addEventListener("input", (event) => event.target.form?.setAttribute("data-dirty", ""));
  window.addEventListener("hashchange", () => {
    if (!location.hash.startsWith("#/")) return; // the skip link
    replace(newsBox()); // what changed on the last screen
    render();
  });
  window.addEventListener("online", () => api.flush());
  // A cut network comes back without an "online" event. A failing flush is tried again on the next round.
  setInterval(() => api.flush().catch(() => {}).then(renderBanner), 5000);
  render();
  api.flush();
}

function shell(me, screens, session) {
  document.getElementById("user").textContent = me.user;
  const tabs = [...screens.map((screen) => [screen.home, screen.label]), ["activity", "Activity"]];
  replace(document.getElementById("tabs"),
    tabs.map(([home, label]) => h("a", { class: "app-tab", href: `#/${home}`, dataset: { home } }, label)));
  replace(document.getElementById("signout"), button("Sign out", async () => {
    const waiting = (await ctx.api.waiting()).length;
    if (waiting && !confirm(`${waiting} action${waiting > 1 ? "s have" : " has"} not reached SAP yet. Sign out and discard ${waiting > 1 ? "them" : "it"}?`)) return;
    await ctx.api.discardWaiting();
    ctx.events?.stop();
    await stopPushes(ctx.api).catch(() => {}); // this device notifies no one once signed out
    await forgetSavedScreens();
    forget();
    session.signOut();
  }, { kind: "transparent" }));
}

/** The saved copies of the API's answers and the followed writebacks: one user's, never the next one's. */
async function forgetSavedScreens() {
  forgetTracked();
  await window.caches?.delete(SAVED_SCREENS).catch(() => {}); // no Cache API outside a secure context
}

/** The session is over: say so and keep everything (queued actions stay in the outbox); no surprise reload. */
let askedToSignIn = false;
function signInAgain() {
  ctx?.events?.stop();
  if (askedToSignIn) return;
  askedToSignIn = true;
  replace(document.getElementById("signin"), strip("warning", "Your session has ended. Sign in again to go on;",
    " actions waiting to be sent are kept."), button("Sign in", () => location.reload(), { kind: "emphasized" }));
}

/** Which screen the hash names: [view, params], or nothing. */
function route(hash) {
  const path = hash.replace(/^#\/?/, "");
  for (const screen of [...ctx.screens, activity]) {
    for (const [pattern, view] of screen.routes) {
      const match = path.match(pattern);
      if (match) return [screen, view, match.slice(1).map((group) => group && decodeURIComponent(group))];
    }
  }
  return [];
}

async function render() {
  if (!location.hash.replace(/^#\/?/, "")) return location.replace(`#/${ctx.screens[0]?.home ?? "activity"}`);
  const turn = ++rendering;
  const [screen, view, params] = route(location.hash);
  for (const tab of document.querySelectorAll(".app-tab")) {
    tab.toggleAttribute("aria-current", tab.dataset.home === screen?.home);
    if (tab.hasAttribute("aria-current")) tab.setAttribute("aria-current", "page");
  }
  if (!view) return page("Not found", [strip("warning", "There is no such screen. ", h("a", { href: "#/" }, "Start again"))]);
  ctx.cachedAt = null;
  main.setAttribute("aria-busy", "true");
  try {
    const { heading, body, footer } = await view(viewContext(), ...params);
    if (turn === rendering) page(heading, body, footer);
  } catch (error) {
    if (turn === rendering) page("Could not load", [strip("error", messageOf(error)), button("Try again", render)]);
  } finally {
    main.removeAttribute("aria-busy");
    renderBanner();
  }
}

let shownRoute = null;
function page(heading, body, footer) {
  const h1 = title(heading, 1);
  h1.tabIndex = -1;
  replace(main, h1, body, footer && footer.length ? h("div", { class: "fd-bar fd-bar--floating-footer app-footer" },
    h("div", { class: "fd-bar__right" }, footer.map((node) => h("div", { class: "fd-bar__element" }, node)))) : null);
  document.title = `${heading} · SAP extension`;
  if (shownRoute !== location.hash) h1.focus(); // a new screen: screen readers start at its title
  shownRoute = location.hash;
}

function messageOf(error) {
  if (error instanceof ApiError) return `${error.message} (${error.status})`;
  if (error instanceof TypeError) return "The API cannot be reached and nothing was saved for this screen yet.";
  return error.message;
}

/** What a view gets: reads that note an offline copy, and act() for writebacks with their live status. */
function viewContext() {
  return {
    me: ctx.me,
    async get(path) {
      const result = await ctx.api.get(path);
      if (result.cachedAt) ctx.cachedAt = result.cachedAt;
      return result;
    },
    /** Resolves true when accepted or queued; shows the API's refusal in `errorSlot` and resolves false. */
    async act(method, path, body, { label, ifMatch, errorSlot }) {
      const route = location.hash;
      // What was typed is in this action now: its outcome may redraw the screen.
      for (const form of main.querySelectorAll("form[data-dirty]")) form.removeAttribute("data-dirty");
      try {
        const outcome = await ctx.api.command(method, path, body, { label, ifMatch });
        if (outcome.writeback) {
          ctx.tracker.upsert({ id: outcome.writeback.id, route });
          // Its event may have come before the 202 did: then it is done already, and the screen is redrawn here.
          const done = ctx.tracker.items.find((item) => item.id === outcome.writeback.id)?.status === "succeeded";
          if (done && route === location.hash && !main.querySelector("form[data-dirty]")) render();
        }
        return true;
      } catch (error) {
        const text = error.status === 412 ? "Someone changed this in SAP since you loaded it. Reload to see the change, then try again."
          : messageOf(error);
        if (errorSlot) replace(errorSlot, strip(error.status === 412 ? "warning" : "error", text));
        return false;
      }
    },
    navigate: (hash) => location.assign(hash),
    refresh: render,
    api: ctx.api,
  };
}

// ---- live events: the screen redrawn with a short notice, never under the user's fingers ----------------------

let news = [];
let newsTimer;

/** An event from the stream: noted when it concerns the screen on show (writebacks have their strips). */
function heard(event) {
  if (event.type.startsWith("writeback.")) return;
  let text;
  if (event.type === "reset") text = "Some updates from SAP were missed.";
  else {
    const [screen, view, params] = route(location.hash);
    text = screen?.changes?.(event, view, params ?? []);
  }
  if (!text) return;
  news.push(ownEcho(event) ? null : text);
  clearTimeout(newsTimer);
  newsTimer = setTimeout(showNews, NEWS_WAIT_MS);
}

/** SAP telling of what this user just did here (a confirmation, a release): the writeback's strip says it already. */
function ownEcho(event) {
  const order = event.data?.data?.order;
  return Boolean(order) && ctx.tracker.items.some((item) => {
    const at = item.finished_at ?? item.updated_at;
    return item.target?.id === order && Boolean(at) && Date.now() - new Date(at) < ECHO_MS;
  });
}

function showNews() {
  const texts = [...new Set(news.filter(Boolean))];
  news = [];
  const text = texts.length > 2 ? `${texts[0]} And ${texts.length - 1} more changes in SAP.` : texts.join(" ");
  if (typing()) {
    if (!text) return; // only the echo of the user's own action: it can wait for the next redraw
    // Redrawing now would take what is being typed: the user chooses when.
    return notice(`${text} Tap Refresh to see it.`, button("Refresh", () => {
      replace(newsBox());
      render();
    }, { label: "Refresh: show the new data from SAP" }));
  }
  if (text) notice(text);
  render();
}

/** The user is filling in a form (or has a field in hand): the screen must stay as it is. */
function typing() {
  const focused = document.activeElement;
  return Boolean(main.querySelector("form[data-dirty]"))
    || (main.contains(focused) && ["INPUT", "TEXTAREA", "SELECT"].includes(focused.tagName));
}

let newsRegion;
/** A polite live region (floating at the foot of the screen), there from the start: screen readers announce what
 * appears in it. */
function newsBox() {
  if (!newsRegion) {
    newsRegion = h("div", { id: "news", role: "status", "aria-live": "polite", "aria-atomic": "true" });
    strips.before(newsRegion);
  }
  return newsRegion;
}

function notice(text, action) {
  const close = button("Dismiss", () => replace(newsBox()), { kind: "transparent", label: `Dismiss: ${text}` });
  // Not ui.strip(): its role would be a second live region inside this one, heard twice.
  replace(newsBox(), h("div", { class: "app-strip app-news" },
    h("div", { class: "fd-message-strip fd-message-strip--information" }, h("p", { class: "fd-message-strip__text" }, text)),
    action, close));
}

const dismissed = new Set();
let stripsShown = "";
function renderStrips() {
  const shown = ctx.tracker.latest(3).filter((item) => !dismissed.has(`${item.id}:${item.status}`));
  const signature = shown.map((item) => `${item.id}:${item.status}`).join();
  if (signature === stripsShown) return; // unchanged: screen readers hear each change once
  stripsShown = signature;
  replace(strips, shown.map((item) => {
    const { type, text } = describe(item);
    const close = button("Dismiss", () => { dismissed.add(`${item.id}:${item.status}`); renderStrips(); },
      { kind: "transparent", label: `Dismiss: ${text}` });
    return h("div", { class: "app-strip", dataset: { writeback: item.id, status: item.status } }, strip(type, text), close);
  }));
}

async function renderBanner() {
  const waiting = await ctx.api.waiting().catch(() => []);
  const parts = [];
  if (ctx.cachedAt) parts.push(`Offline: showing what was loaded at ${format.time(ctx.cachedAt)}.`);
  if (waiting.length) parts.push(`${waiting.length} action${waiting.length > 1 ? "s" : ""} waiting to be sent.`);
  if (ctx.session.readOnly) parts.push("Connect to sign in before you act.");
  const text = parts.join(" ");
  if (text === banner.textContent) return;
  replace(banner, text ? strip("warning", text) : null);
}

function fail(message) {
  replace(main, title("SAP extension", 1), strip("error", message), button("Try again", () => location.reload()));
}

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("sw.js", { scope: "./" }).catch(() => {}); // the app works without it, online
  // A notification tapped while the app is open (sw.js): its screen in this window rather than a second one.
  navigator.serviceWorker.addEventListener("message", ({ data }) => {
    if (data?.type !== "open" || typeof data.url !== "string") return;
    const url = new URL(data.url, location.href);
    if (url.origin === location.origin && url.pathname === location.pathname && url.hash) location.hash = url.hash;
  });
}

boot();
