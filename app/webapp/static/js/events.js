// The live event stream (GET /api/v1/events, Server-Sent Events), one per tab: what SAP and the workers tell this
// user as it happens. Read with fetch(), since EventSource cannot send a bearer token; after a drop it resumes
// from the last event's id (Last-Event-ID), so nothing is missed. While it is down the screens poll as before.

import { apiUrl, config } from "./auth.js";

const FIRST_WAIT_MS = 1000;
const MAX_WAIT_MS = 30_000;
const SILENCE_MS = 45_000; // three of the server's 15 s keep-alives: a connection this quiet is gone
const SHORTEST_LIFE_MS = 5000; // a token that expires sooner than this after connecting: back off, do not spin

export class LiveEvents {
  constructor(session, onSignedOut) {
    this.session = session;
    this.onSignedOut = onSignedOut;
    this.handlers = new Set();
    this.watchers = new Set();
    this.lastId = null;
    this.wait = FIRST_WAIT_MS;
    this.live = false;
    this.running = false;
    this.controller = null;
    this.timer = null;
    this.refused = false; // the last connection was answered 401
    addEventListener("online", () => this.connect());
    addEventListener("offline", () => this.drop());
  }

  /**
   * handler({type, id, data}) for one type ("production-order.released"), a family ("production-order." or
   * "production-order.*") or everything ("*"); `data` is the parsed JSON. Returns a function that unsubscribes.
   */
  on(pattern, handler) {
    const prefix = pattern === "*" ? "" : pattern.endsWith(".*") ? pattern.slice(0, -1) : pattern;
    const entry = { handler, matches: prefix.endsWith(".") || !prefix ? (t) => t.startsWith(prefix) : (t) => t === prefix };
    this.handlers.add(entry);
    return () => this.handlers.delete(entry);
  }

  /** watcher(live): told when the stream opens (true) and when it drops (false). */
  onLive(watcher) {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  start() {
    this.running = true;
    this.connect();
  }

  stop() {
    this.running = false;
    this.drop();
  }

  drop() {
    clearTimeout(this.timer);
    this.controller?.abort();
    this.controller = null;
    this.setLive(false);
  }

  setLive(live) {
    if (live === this.live) return;
    this.live = live;
    for (const watcher of this.watchers) watcher(live);
  }

  async connect() {
    clearTimeout(this.timer);
    if (!this.running || this.controller || !navigator.onLine) return;
    const controller = (this.controller = new AbortController());
    const opened = Date.now();
    let outcome;
    try {
      outcome = await this.read(controller);
    } catch {
      outcome = "dropped"; // the network, or our own abort
    }
    if (this.controller !== controller) return; // stopped, or gone offline: drop() took care of it
    this.controller = null;
    this.setLive(false);
    if (outcome === "expired" && Date.now() - opened > SHORTEST_LIFE_MS) outcome = await this.renewed();
    if (outcome === "signed-out") {
      this.running = false;
      this.onSignedOut?.();
    } else if (outcome === "again") {
      this.connect();
    } else {
      this.timer = setTimeout(() => this.connect(), this.wait);
      this.wait = Math.min(this.wait * 2, MAX_WAIT_MS);
    }
  }

  /** After the token ran out: a fresh one and at once again (behind the router, the router renews its own). */
  async renewed() {
    if (this.session.mode === "router") return "again";
    try {
      return (await this.session.renew()) ? "again" : "signed-out";
    } catch {
      return "dropped"; // offline: keep the tokens, try later
    }
  }

  /** Where and how: same-origin behind the router (it adds the token); else config.json's URL with our token. */
  async target() {
    if (this.session.mode === "router") return { url: apiUrl("events"), headers: {} };
    const { events_url: url } = await config();
    return { url: new URL(url || apiUrl("events"), location.href).href, headers: await this.session.headers(false) };
  }

  /** One connection, until it ends: "dropped", "expired" (token-expired), "again" or "signed-out" (a 401). */
  async read(controller) {
    const { url, headers } = await this.target();
    const unanswered = setTimeout(() => controller.abort(), SILENCE_MS);
    let response;
    try {
      response = await fetch(url, {
        cache: "no-store",
        credentials: "same-origin",
        signal: controller.signal,
        headers: { Accept: "text/event-stream", ...headers, ...(this.lastId ? { "Last-Event-ID": this.lastId } : {}) },
      });
    } finally {
      clearTimeout(unanswered);
    }
    if (response.status === 401) {
      // One renewal per refusal. A fresh token refused too is the stream's problem, not the session's: the API
      // says when the session is over; until then the screens poll and the stream is tried now and then.
      if (this.session.mode === "router" || this.refused) {
        this.wait = MAX_WAIT_MS;
        return "dropped";
      }
      this.refused = true;
      return this.renewed();
    }
    // Anything but a stream (an error, a sign-in page the router answers with) is a drop: tried again later.
    if (!response.ok || !response.headers.get("Content-Type")?.startsWith("text/event-stream")) {
      response.body?.cancel().catch(() => {});
      return "dropped";
    }
    this.wait = FIRST_WAIT_MS;
    this.refused = false;
    this.setLive(true);
    return this.parse(response.body.pipeThrough(new TextDecoderStream()).getReader(), controller);
  }

  /** The SSE format (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation). */
  async parse(reader, controller) {
    let buffer = "";
    let data = [];
    let type = "";
    let silence;
    try {
      for (;;) {
        clearTimeout(silence);
        silence = setTimeout(() => controller.abort(), SILENCE_MS);
        const { value, done } = await reader.read();
        if (done) return "dropped";
        // Lines end in CRLF, LF or CR; a CR at the very end may be the first half of a CRLF: wait for the rest.
        const lines = (buffer + value).split(/\r\n|\r(?!$)|\n/);
        buffer = lines.pop();
        for (const line of lines) {
          if (line === "") {
            if (data.length && this.dispatch(type || "message", data.join("\n")) === "token-expired") return "expired";
            data = [];
            type = "";
            continue;
          }
          if (line.startsWith(":")) continue; // a comment: keep-alive
          const colon = line.indexOf(":");
          const name = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (name === "event") type = text;
          else if (name === "data") data.push(text);
          else if (name === "id" && !text.includes("\0")) this.lastId = text || null;
        }
      }
    } finally {
      clearTimeout(silence);
      reader.cancel().catch(() => {});
    }
  }

  dispatch(type, text) {
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
    const event = { type, id: this.lastId, data };
    for (const { matches, handler } of this.handlers) {
      if (!matches(type)) continue;
      try {
        handler(event);
      } catch (error) {
        console.error("event handler failed", type, error);
      }
    }
    return type;
  }
}
