// The public API, as the signed-in user. Reads may come from the service worker's copy when offline (`cachedAt`).
// Writes are writeback commands: kept in the outbox first, then sent with their Idempotency-Key; a lost network
// leaves them there to be sent again later, with the same key, so the API applies each once whatever happens.

import { apiUrl } from "./auth.js";
import * as outbox from "./outbox.js";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `the API answered ${status}`);
    this.status = status;
    this.body = body;
  }
}

// Answers that say "try later", not "never": the action stays queued. (A 500 is a bug of ours: shown, not retried.)
const TRY_LATER = new Set([401, 408, 429, 502, 503, 504]);
const WRITE_TIMEOUT_MS = 30_000; // a half-open connection must not hold the outbox; a resend reuses the key

export class Api {
  constructor(session, onSignedOut) {
    this.session = session;
    this.onSignedOut = onSignedOut;
    this.user = null;
    this.listeners = new Set();
    this.inFlight = new Set(); // keys being sent by this page right now
  }

  async request(method, path, { body, headers = {}, cache, timeout } = {}) {
    const send = async () => fetch(apiUrl(path), {
      method,
      cache,
      credentials: "same-origin",
      signal: timeout ? AbortSignal.timeout(timeout) : undefined,
      headers: { Accept: "application/json", "Accept-Language": navigator.language || "en",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(await this.session.headers(method !== "GET")), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let response = await send();
    if (response.status === 401 && await this.session.renew().catch(() => false)) response = await send();
    else if (response.status === 403 && this.session.renewCsrf && method !== "GET") { // the router's stale CSRF token
      await this.session.renewCsrf();
      response = await send();
    }
    if (response.status === 401) this.onSignedOut();
    return response;
  }

  /** GET → {data, etag, cachedAt}; cachedAt is a Date when the service worker answered from its copy. */
  async get(path) {
    const response = await this.request("GET", path);
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data);
    const cached = response.headers.get("X-App-Cached-At");
    return { data, etag: response.headers.get("ETag"), cachedAt: cached ? new Date(cached) : null };
  }

  /**
   * A writeback command. Resolves {writeback} once the API accepted it (202), or {queued: true} when it could not
   * reach the API (it goes out later by itself); rejects with ApiError when the API refused it (4xx).
   */
  async command(method, path, body, { label, ifMatch } = {}) {
    if (this.session.readOnly) {
      throw new ApiError(401, { message: "You are offline and not signed in in this window: connect to sign in, then act." });
    }
    const entry = { key: crypto.randomUUID(), user: this.user, method, path, body, ifMatch, label,
      queuedAt: Date.now() };
    await outbox.put(entry);
    try {
      return { writeback: await this.send(entry) };
    } catch (error) {
      if (error instanceof ApiError) throw error;
      this.emit({ type: "queued", entry });
      return { queued: true };
    }
  }

  async send(entry) {
    this.inFlight.add(entry.key);
    let response;
    try {
      response = await this.request(entry.method, entry.path, { body: entry.body, timeout: WRITE_TIMEOUT_MS,
        headers: { "Idempotency-Key": entry.key, ...(entry.ifMatch ? { "If-Match": entry.ifMatch } : {}) } });
    } catch (error) {
      throw new Offline(error);
    } finally {
      this.inFlight.delete(entry.key);
    }
    const data = await response.json().catch(() => null);
    if (TRY_LATER.has(response.status)) throw new Offline(new ApiError(response.status, data));
    await outbox.remove(entry.key);
    if (!response.ok) throw new ApiError(response.status, data);
    this.emit({ type: "accepted", entry, writeback: data });
    return data;
  }

  /**
   * Send what waits in the outbox, oldest first; stops at the first that still cannot get through. One window at
   * a time (a Web Lock): two open windows never send the same action at once.
   */
  async flush() {
    if (!this.user || this.session.readOnly || !(await outbox.waiting(this.user)).length) return;
    const run = () => this.sendWaiting();
    await (navigator.locks ? navigator.locks.request("sapext-outbox", { ifAvailable: true },
      (lock) => lock && run()) : run());
  }

  async sendWaiting() {
    if (!(await this.stillSignedInAs())) return;
    for (const entry of await outbox.waiting(this.user)) {
      if (this.inFlight.has(entry.key)) break; // this page is sending it right now; its answer decides
      try {
        await this.send(entry);
      } catch (error) {
        if (error instanceof Offline) break;
        this.emit({ type: "refused", entry, error });
      }
    }
  }

  /** Behind the router all windows share one session: if someone else signed in meanwhile, send nothing of ours. */
  async stillSignedInAs() {
    if (this.session.mode !== "router") return true;
    const response = await this.request("GET", "me", { cache: "no-store" }).catch(() => null);
    const me = response?.ok ? await response.json() : null;
    return me?.user === this.user;
  }

  waiting() {
    return outbox.waiting(this.user);
  }

  /** Signing out with actions still waiting: they are the user's, never sent in anyone else's session. */
  async discardWaiting() {
    for (const entry of await this.waiting()) await outbox.remove(entry.key);
  }

  on(listener) {
    this.listeners.add(listener);
  }

  emit(event) {
    for (const listener of this.listeners) listener(event);
  }
}

class Offline extends Error {
  constructor(cause) {
    super("the API cannot be reached", { cause });
  }
}
