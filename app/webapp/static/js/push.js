// Web Push: "Notify me on this device", for when the app is closed. Permission is asked only when the user turns
// the switch on; the browser's subscription goes to the API, which pushes what the event stream tells open apps.
// Off, and sign-out, unsubscribe in the browser and at the API alike.

import { h, replace, strip } from "./ui.js";

const READY_WAIT_MS = 10_000;
const SUBSCRIBE_WAIT_MS = 20_000; // a browser that cannot reach its push service may never answer

/** The promise's value, or an Error with `message` after `ms`. */
function within(promise, ms, message) {
  let timer;
  const late = new Promise((resolve, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export const pushSupported = () => "PushManager" in window && "serviceWorker" in navigator && "Notification" in window;

function registration() {
  return within(navigator.serviceWorker.ready, READY_WAIT_MS, "the app's service worker is not running");
}

/** This browser's subscription, if any; at once, even where the service worker never started. */
async function current() {
  const found = await navigator.serviceWorker.getRegistration();
  return found ? found.pushManager.getSubscription() : null;
}

function keyBytes(base64url) {
  const text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

async function subscribe(api) {
  const { data } = await api.get("push/public-key");
  const manager = (await registration()).pushManager;
  const key = keyBytes(data.public_key);
  let subscription = await manager.getSubscription();
  const sameKey = subscription?.options.applicationServerKey
    && new Uint8Array(subscription.options.applicationServerKey).join() === key.join();
  if (subscription && !sameKey) await subscription.unsubscribe(); // made for another server's key
  if (!subscription || !sameKey) {
    const asked = manager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    try {
      subscription = await within(asked, SUBSCRIBE_WAIT_MS, "the browser's push service does not answer");
    } catch (error) {
      asked.then((late) => late.unsubscribe(), () => {}); // an answer after all: not kept, the switch says off
      throw error;
    }
  }
  const response = await api.request("POST", "push/subscriptions", { body: subscription.toJSON() });
  if (!response.ok) {
    await subscription.unsubscribe().catch(() => {});
    const body = await response.json().catch(() => null);
    throw new Error(body?.message || `the API answered ${response.status}`);
  }
}

/** A subscription this browser already has, sent again: the API pushes by the roles and plants of the last
 * time it heard from us, and forgets a subscription it has not heard of for PUSH_SUBSCRIPTION_MAX_AGE. */
export async function renew(api) {
  if (!pushSupported() || Notification.permission !== "granted") return;
  const subscription = await current().catch(() => null);
  if (subscription) await api.request("POST", "push/subscriptions", { body: subscription.toJSON() }).catch(() => {});
}

/** Off in the browser and at the API (sign-out too: the next user of this device gets none of ours). */
export async function unsubscribe(api) {
  if (!pushSupported()) return;
  const subscription = await current().catch(() => null);
  if (!subscription) return;
  await api.request("DELETE", "push/subscriptions", { body: { endpoint: subscription.endpoint } }).catch(() => {});
  await subscription.unsubscribe().catch(() => {});
}

/** The switch, or nothing where the browser cannot receive pushes. */
export function pushSwitch(api) {
  if (!pushSupported()) return null;
  const message = h("div", { class: "app-errors" });
  const toggle = h("input", { type: "checkbox", role: "switch", class: "app-checkbox", id: "push-switch",
    name: "push", disabled: true, "aria-describedby": "push-hint" });
  const say = (type, text) => replace(message, text ? strip(type, text) : null);
  const blocked = () => say("warning", "Notifications are blocked for this app in your browser's settings.");

  (async () => {
    toggle.checked = Notification.permission === "granted" && Boolean(await current().catch(() => null));
    toggle.disabled = Notification.permission === "denied" && !toggle.checked;
    if (toggle.disabled) blocked();
  })();

  toggle.addEventListener("change", async () => {
    const on = toggle.checked;
    toggle.disabled = true;
    say(null);
    try {
      if (!on) {
        await unsubscribe(api);
        return say("information", "Notifications on this device are off.");
      }
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        toggle.checked = false;
        return permission === "denied" ? blocked() : say("information", "Notifications stay off: permission was not given.");
      }
      await subscribe(api);
      say("success", "You will be notified on this device.");
    } catch (error) {
      toggle.checked = !on;
      say("error", `${on ? "Could not turn notifications on" : "Could not turn notifications off"}: ${error.message}`);
    } finally {
      toggle.disabled = Notification.permission === "denied" && !toggle.checked;
    }
  });

  return h("div", {},
    h("div", { class: "fd-form-item app-check" }, toggle,
      h("label", { class: "fd-form-label", for: toggle.id }, "Notify me on this device")),
    h("p", { class: "app-hint", id: "push-hint" },
      "Even when the app is closed: new approvals, orders released in SAP, your actions' outcomes."),
    message);
}
