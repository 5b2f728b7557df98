// Every action's writeback, followed live until SAP's outcome is known, and said in words: sent, applying,
// checking with SAP (in doubt), done, someone changed it (conflict), refused by SAP (with SAP's message). The
// outcome comes with the event stream's writeback.* event; while the stream is down, a GET every second asks.

import { announce } from "./ui.js";

const KEY = "sapext.tracked";
const POLL_MS = 1000;
// With the stream up, now and then a look anyway: the stream tells outcomes only, not "in doubt" on the way.
const LIVE_POLL_MS = 30_000;
const EARLY_KEPT = 50;
export const FINAL = new Set(["succeeded", "rejected", "conflict", "dead", "discarded"]);

export function describe(item) {
  const sap = item.last_error?.message ? ` SAP: ${item.last_error.message}` : "";
  switch (item.status) {
    case "queued": return { type: "information", text: `${item.label}: waiting for the network, sent when you are back online.` };
    case "accepted": return { type: "information", text: `${item.label}: sent, waiting for SAP.` };
    case "running": return { type: "information", text: `${item.label}: being applied in SAP…` };
    case "in_doubt": return { type: "warning", text: `${item.label}: no answer from SAP yet; checking whether it landed. Do not repeat it.` };
    case "succeeded": return { type: "success", text: `${item.label}: done in SAP.` };
    case "conflict": return { type: "warning", text: `${item.label}: someone changed this in SAP first. Reload and try again.${sap}` };
    case "rejected": return { type: "error", text: `${item.label}: SAP refused it.${sap}` };
    case "refused": return { type: "error", text: `${item.label}: not accepted. ${item.message ?? ""}` };
    case "dead": return { type: "error", text: `${item.label}: could not be applied; an administrator was alerted.${sap}` };
    case "discarded": return { type: "error", text: `${item.label}: discarded by an administrator.` };
    default: return { type: "information", text: `${item.label}: ${item.status}` };
  }
}

export function forgetTracked() {
  sessionStorage.removeItem(KEY);
}

export class Tracker {
  constructor(api) {
    this.api = api;
    this.items = JSON.parse(sessionStorage.getItem(KEY) || "[]");
    this.listeners = new Set();
    this.asked = new Map(); // writeback id -> when its state was last read from the API
    this.early = new Map(); // outcomes the stream told before the 202 that names them had arrived
    this.live = false;
    api.on((event) => this.onApi(event));
    this.poll();
  }

  /** Outcomes from the event stream (LiveEvents): a writeback is settled as soon as its event arrives. */
  follow(events) {
    events.on("writeback.", ({ data: event }) => this.settle(event.data));
    // More was missed than the server keeps, or (re)connected: everything still open is read once, for what ended
    // while the stream could not say so.
    events.on("reset", () => this.asked.clear());
    events.onLive((live) => {
      this.live = live;
      if (live) this.asked.clear();
    });
  }

  settle({ id, status, message, finished_at: finishedAt }) {
    const outcome = { id, status, finished_at: finishedAt, ...(message ? { last_error: { message } } : {}) };
    if (this.items.some((item) => item.id === id)) return this.upsert(outcome);
    this.early.set(id, outcome); // ours, its 202 still on the way; or another window's (then it is never used)
    if (this.early.size > EARLY_KEPT) this.early.delete(this.early.keys().next().value);
  }

  onApi({ type, entry, writeback, error }) {
    if (type === "queued") this.upsert({ id: entry.key, key: entry.key, label: entry.label, status: "queued" });
    if (type === "accepted") {
      this.items = this.items.filter((item) => item.key !== entry.key);
      this.asked.set(writeback.id, Date.now()); // the 202 just said how it stands
      this.upsert({ ...writeback, key: entry.key, label: entry.label });
    }
    if (type === "refused") {
      this.upsert({ id: entry.key, key: entry.key, label: entry.label, status: "refused", message: error.message });
    }
  }

  /** Adds or updates a writeback; what is known of it already (its label, the screen it was taken on) stays. */
  upsert(update) {
    const before = this.items.find((known) => known.id === update.id);
    // An answer that left the API before the outcome did (a slow GET, the 202) never takes it back.
    if (FINAL.has(before?.status) && !FINAL.has(update.status ?? before.status)) return;
    const item = { ...before, ...update };
    const heard = this.early.get(item.id);
    if (heard) {
      this.early.delete(item.id);
      if (!FINAL.has(item.status)) Object.assign(item, heard);
    }
    if (FINAL.has(item.status)) this.asked.delete(item.id);
    this.items = [item, ...this.items.filter((known) => known.id !== item.id)].slice(0, 20);
    sessionStorage.setItem(KEY, JSON.stringify(this.items));
    if (before?.status !== item.status) {
      announce(describe(item).text);
      for (const listener of this.listeners) listener(item, before);
    }
  }

  latest(count = 3) {
    return this.items.slice(0, count);
  }

  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Without the stream, one GET per open writeback every second (the worker usually finishes in well under one);
   * with it, rarely. A writeback the stream settled is asked about no more.
   */
  async poll() {
    const queued = this.items.filter((item) => item.status === "queued");
    if (queued.length) {
      // Sent meanwhile by another window (it follows the writeback there): nothing is waiting here any more.
      const waiting = new Set((await this.api.waiting().catch(() => [])).map((entry) => entry.key));
      const gone = queued.filter((item) => !waiting.has(item.key) && !this.api.inFlight.has(item.key));
      if (gone.length) this.items = this.items.filter((item) => !gone.includes(item));
    }
    for (const { id } of this.items) {
      const item = this.items.find((known) => known.id === id); // as it is now: the stream may have settled it
      if (!item || FINAL.has(item.status) || ["queued", "refused"].includes(item.status)) continue;
      if (Date.now() - (this.asked.get(id) ?? 0) < (this.live ? LIVE_POLL_MS : POLL_MS)) continue;
      this.asked.set(id, Date.now());
      try {
        const { data } = await this.api.get(`writebacks/${encodeURIComponent(id)}`);
        this.upsert(data);
      } catch {
        // offline or signed out: try again on the next round
      }
    }
    setTimeout(() => this.poll(), POLL_MS);
  }
}
