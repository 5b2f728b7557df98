// The public API, as the signed-in user. Reads may come from the service worker's copy when offline (`cachedAt`).
// Writes are writeback commands: kept in the outbox first, then sent with their Idempotency-Key; a lost network
// leaves them there to be sent again later, with the same key.

import { apiUrl } from "./auth.js";
import * as outbox from "./outbox.js";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `the API answered ${status}`);
    this.status = status;
    this.body = body;
  }
}

// Answers that say "try later", not "never": the action stays queued.
const TRY_LATER = new Set([408, 429, 502, 503, 504]);

export class Api {
  constructor(session, onSignedOut) {
    this.session = session;
    this.onSignedOut = onSignedOut;
    this.user = null;
    this.listeners = new Set();
  }

  async request(method, path, { body, headers = {} } = {}) {
    const send = async () => fetch(apiUrl(path), {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "Accept-Language": navigator.language || "en",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...(await this.session.headers(method !== "GET")), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let response = await send();
    if ((response.status === 401 || (response.status === 403 && this.session.mode === "router"))
        && await this.session.renew()) response = await send();
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
    let response;
    try {
      response = await this.request(entry.method, entry.path, { body: entry.body,
        headers: { "Idempotency-Key": entry.key, ...(entry.ifMatch ? { "If-Match": entry.ifMatch } : {}) } });
    } catch (error) {
      throw new Offline(error);
    }
    const data = await response.json().catch(() => null);
    if (TRY_LATER.has(response.status) || response.status >= 500 || response.status === 401) {
      throw new Offline(new ApiError(response.status, data));
    }
    await outbox.remove(entry.key);
    if (!response.ok) throw new ApiError(response.status, data);
    this.emit({ type: "accepted", entry, writeback: data });
    return data;
  }

  /** Send what waits in the outbox, oldest first; stops at the first that still cannot get through. */
  async flush() {
    if (this.flushing || !this.user) return;
    this.flushing = true;
    try {
      for (const entry of await outbox.waiting(this.user)) {
        try {
          await this.send(entry);
        } catch (error) {
          if (error instanceof Offline) break;
          this.emit({ type: "refused", entry, error });
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  waiting() {
    return outbox.waiting(this.user);
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
