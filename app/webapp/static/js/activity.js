// Activity: what the user sent to SAP and what became of it, newest first, with the actions still waiting for the
// network on top. The place to look when a strip has gone: nothing is ever left unexplained. Below, whether this
// device shows notifications while the app is closed.

import { pushSwitch } from "./push.js";
import { format, h, section, strip } from "./ui.js";
import { describe } from "./writebacks.js";

const WHAT = {
  "task.decision": (target) => `Decision on task ${target.id}`,
  "task.claim": (target) => `Claim of task ${target.id}`,
  "task.release": (target) => `Release of task ${target.id}`,
  "task.forward": (target) => `Forward of task ${target.id}`,
  "order.release": (target) => `Release of order ${target.id}`,
  "order.reschedule": (target) => `Reschedule of order ${target.id}`,
  "operation.confirm": (target) => `Confirmation for order ${target.id}`,
  "confirmation.cancel": (target) => `Undo of a confirmation for order ${target.id}`,
};

export const labelOf = (writeback) => (WHAT[writeback.type] ?? ((t) => `${writeback.type} ${t.id}`))(writeback.target);

async function list(ctx) {
  const waiting = await ctx.api.waiting();
  const { data } = await ctx.get("writebacks?limit=50");
  const row = (item, when) => {
    const { type, text } = describe(item);
    return h("li", { class: "fd-list__item app-activity", dataset: { writeback: item.id, status: item.status } },
      h("div", { class: "app-row__main" }, strip(type, text), h("span", { class: "app-row__sub" }, when)));
  };
  const notify = pushSwitch(ctx.api);
  return {
    heading: "Activity",
    body: [
      waiting.length ? section("Waiting for the network",
        h("ul", { class: "fd-list app-list" }, waiting.map((entry) => row({ ...entry, status: "queued" },
          `Taken ${format.dateTime(new Date(entry.queuedAt).toISOString())}`)))) : null,
      section("Sent to SAP", data.items.length
        ? h("ul", { class: "fd-list app-list" }, data.items.map((item) => row({ ...item, label: labelOf(item) },
          `${format.dateTime(item.created_at)} · ${item.attempts} attempt${item.attempts === 1 ? "" : "s"}`)))
        : h("p", { class: "app-empty" }, "Nothing sent yet.")),
      notify && section("Notifications", notify),
    ],
  };
}

export default { role: null, home: "activity", label: "Activity", routes: [[/^activity$/, list]] };
