// Every action's writeback, followed live until SAP's outcome is known, and said in words: sent, applying,
// checking with SAP (in doubt), done, someone changed it (conflict), refused by SAP (with SAP's message).

import { announce } from "./ui.js";

const KEY = "sapext.tracked";
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
    api.on((event) => this.onApi(event));
    this.poll();
  }

  onApi({ type, entry, writeback, error }) {
    if (type === "queued") this.upsert({ id: entry.key, key: entry.key, label: entry.label, status: "queued" });
    if (type === "accepted") {
      this.items = this.items.filter((item) => item.key !== entry.key);
      this.upsert({ ...writeback, key: entry.key, label: entry.label });
    }
    if (type === "refused") {
      this.upsert({ id: entry.key, key: entry.key, label: entry.label, status: "refused", message: error.message });
    }
  }

  /** Adds or updates a writeback; what is known of it already (its label, the screen it was taken on) stays. */
  upsert(update) {
    const before = this.items.find((known) => known.id === update.id);
    const item = { ...before, ...update };
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

  /** One GET per open writeback every second; the worker usually finishes in well under one. */
  async poll() {
    const queued = this.items.filter((item) => item.status === "queued");
    if (queued.length) {
      // Sent meanwhile by another window (it follows the writeback there): nothing is waiting here any more.
      const waiting = new Set((await this.api.waiting().catch(() => [])).map((entry) => entry.key));
      const gone = queued.filter((item) => !waiting.has(item.key) && !this.api.inFlight.has(item.key));
      if (gone.length) this.items = this.items.filter((item) => !gone.includes(item));
    }
    for (const item of this.items.filter((i) => !FINAL.has(i.status) && !["queued", "refused"].includes(i.status))) {
      try {
        const { data } = await this.api.get(`writebacks/${encodeURIComponent(item.id)}`);
        this.upsert(data);
      } catch {
        // offline or signed out: try again on the next round
      }
    }
    setTimeout(() => this.poll(), 1000);
  }
}
