// Supervisor: the released operations at my work centres, earliest start first (what is due today or overdue on
// top); confirm with SAP's proposal prefilled, the unit shown, scrap with its reason, final; the operation's
// confirmations with who confirmed, and undo.

import { badges, button, facts, field, format, h, input, navList, replace, section, showMore, status, strip, today } from "./ui.js";

const path = (id) => `work-orders/${encodeURIComponent(id)}`;

function progress(operation) {
  if (operation.is_confirmed) return status("Finally confirmed", "positive");
  if (operation.is_partially_confirmed) return status("Partially confirmed", "informative");
  return status("Not started", "neutral");
}

function due(operation) {
  const start = operation.earliest_start?.slice(0, 10);
  if (!start) return null;
  if (start < today()) return status(`Overdue since ${format.date(start)}`, "critical");
  if (start === today()) return status("Due today", "informative");
  return `Starts ${format.date(start)}`;
}

const rows = (operations) => operations.map((operation) => ({
  href: `#/work/${encodeURIComponent(operation.id)}`,
  title: `${operation.order_id} · ${operation.operation} ${operation.text}`,
  subtitle: [operation.material, " · ", due(operation)],
  side: h("span", { class: "app-togo" }, `${format.quantity(operation.quantity_to_go)} to go`),
}));

/** Due today or overdue first (the badge's own list, by the device's today); all open ones a tap away. */
async function list(ctx, show) {
  const all = show === "all";
  const page = (cursor) => ctx.get(`work-orders?limit=50${all ? "" : `&starts_by=${today()}`}`
    + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
  const [{ data: counts }, { data: first }] = await Promise.all([
    ctx.get(`work-orders/counts?tz=${encodeURIComponent(Intl.DateTimeFormat().resolvedOptions().timeZone)}`), page()]);
  const operations = first.items.length ? navList(all ? "Open operations" : "Operations due today or overdue",
    rows(first.items)) : null;
  return {
    heading: "My work",
    body: [
      h("p", { class: "app-summary" }, `Work centre ${counts.work_centers.join(", ")} · today ${format.date(counts.today)}`),
      badges("Which operations", [
        { href: "#/work", count: counts.to_confirm_today, label: "Due today or overdue", current: !all },
        { href: "#/work?show=all", count: counts.open, label: "All open", current: all },
      ]),
      operations ?? h("p", { class: "app-empty" }, all ? "Nothing to confirm at your work centres."
        : "Nothing due today. See all open operations for what comes next."),
      operations && showMore(operations, first.next_cursor, page, rows),
    ],
  };
}

async function detail(ctx, id) {
  const [{ data: operation }, proposal, { data: reasons }, { data: history }] = await Promise.all([
    ctx.get(path(id)),
    ctx.get(`${path(id)}/confirmation-proposal`).then((r) => r.data).catch(() => null),
    ctx.get("work-orders/scrap-reasons"),
    ctx.get(`${path(id)}/confirmations`),
  ]);
  const unit = operation.quantity_to_go.unit;
  const errors = h("div", { class: "app-errors" });
  const form = confirmForm(ctx, operation, proposal, reasons.items, errors);
  return {
    heading: `${operation.order_id} · ${operation.operation}`,
    body: [
      h("p", { class: "app-lead" }, operation.text),
      facts([
        ["Material", operation.material],
        ["Work centre", operation.work_center],
        ["Planned", format.quantity(operation.planned_quantity)],
        ["Confirmed", format.quantity(operation.confirmed_yield)],
        ["Still to go", format.quantity(operation.quantity_to_go)],
        ["Not produced (final)", operation.final_shortfall && format.quantity(operation.final_shortfall)],
        ["Earliest start", format.date(operation.earliest_start)],
        ["Status", progress(operation)],
      ]),
      operation.is_confirmed ? strip("success", "Finally confirmed: nothing left to do here.")
        : section(`Confirm (${unit})`, errors, form),
      section("Confirmations", historyList(ctx, id, history.items)),
    ],
  };
}

function confirmForm(ctx, operation, proposal, reasons, errors) {
  const unit = operation.quantity_to_go.unit;
  const quantity = (name, value) => input({ name, type: "text", inputmode: "decimal", autocomplete: "off",
    value: value ?? "0", pattern: "[0-9]+([.,][0-9]{1,3})?" });
  const good = quantity("yield", plain(proposal?.yield_quantity?.value ?? operation.quantity_to_go.value));
  const scrap = quantity("scrap", "0");
  const reason = h("select", { class: "fd-input app-select", name: "reason" },
    h("option", { value: "" }, "No reason"), reasons.map((r) => h("option", { value: r.code }, `${r.text} (${r.code})`)));
  const final = h("input", { type: "checkbox", class: "app-checkbox", name: "final", id: "confirm-final" });
  const text = input({ name: "text", maxlength: 40, autocomplete: "off" });
  const send = button("Confirm", null, { kind: "emphasized", type: "submit" });
  const form = h("form", { class: "app-form", novalidate: true, "aria-label": "Confirm this operation" },
    field(`Good quantity (${unit})`, good, { required: true,
      hint: proposal ? `SAP proposes ${format.quantity(proposal.yield_quantity)}` : `${format.quantity(operation.quantity_to_go)} to go` }),
    field(`Scrap (${unit})`, scrap),
    field("Reason for scrap", reason, { hint: "Needed when there is scrap" }),
    h("div", { class: "fd-form-item app-check" }, final,
      h("label", { class: "fd-form-label", for: final.id }, "Final confirmation: no more work on this operation")),
    field("Note (optional)", text, { hint: "Up to 40 characters, kept in SAP" }),
    h("div", { class: "app-form__actions" }, send));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(errors);
    const body = { yield_quantity: decimal(good.value), scrap_quantity: decimal(scrap.value), unit, final: final.checked,
      text: text.value.trim() };
    if (reason.value) body.scrap_reason = reason.value;
    if (!/^\d+(\.\d{1,3})?$/.test(body.yield_quantity) || !/^\d+(\.\d{1,3})?$/.test(body.scrap_quantity)) {
      errors.append(strip("error", "Quantities are numbers with at most 3 decimals, like 12 or 12.5."));
      return good.focus();
    }
    send.disabled = true;
    const label = `Confirmation of ${body.yield_quantity} ${unit} for ${operation.order_id} · ${operation.operation}`;
    const ok = await ctx.act("POST", `${path(operation.id)}/confirmations`, body, { label, errorSlot: errors });
    send.disabled = false;
    if (ok) text.value = "";
  });
  return form;
}

const decimal = (value) => value.trim().replace(",", ".");
const plain = (value) => String(Number(value)); // "50.000" → "50": what a person would type

function historyList(ctx, id, items) {
  if (!items.length) return h("p", { class: "app-empty" }, "No confirmations yet.");
  return h("ul", { class: "fd-list app-list", "aria-label": "Confirmations, newest first" }, items.map((record) => {
    const what = record.is_cancellation ? "Undo" : `${format.quantity(record.yield_quantity)} good`
      + (Number(record.scrap_quantity?.value) ? `, ${format.quantity(record.scrap_quantity)} scrap` : "")
      + (record.final ? ", final" : "");
    const errors = h("div", { class: "app-errors" });
    const undo = record.cancellable && button("Undo", async () => {
      undo.disabled = true;
      const label = `Undo of ${what} for ${id}`;
      await ctx.act("POST", `${path(id)}/confirmations/${encodeURIComponent(record.id)}/cancellation`, {}, { label, errorSlot: errors });
    }, { kind: "transparent", label: `Undo ${what} by ${record.confirmed_by}` });
    return h("li", { class: "fd-list__item app-history", dataset: { confirmation: record.id } },
      h("div", { class: "app-row__main" },
        h("span", { class: "app-row__title" }, what),
        h("span", { class: "app-row__sub" }, `${record.confirmed_by} · ${format.dateTime(record.entered_at)}`
          + (record.text ? ` · ${record.text}` : "")),
        record.is_cancelled ? status("Undone", "critical") : null, errors),
      undo ? h("span", { class: "app-row__side" }, undo) : null);
  }));
}

/**
 * What a live event changes here, in words: the lists (confirmations move quantities and end operations; a release
 * brings new ones), or the operation on show.
 */
function changes(event, view, [id]) {
  const { order, operation } = event.data?.data ?? {};
  if (!order) return null;
  const what = operation ? `operation ${operation} of order ${order}` : `order ${order}`;
  const words = {
    "confirmation.created": `Work on ${what} was confirmed in SAP.`,
    "confirmation.cancelled": `A confirmation of ${what} was undone in SAP.`,
    "production-order.released": `Order ${order} was released in SAP: its operations are ready to work on.`,
  }[event.type];
  if (!words) return null;
  if (view === list) return words;
  return view === detail && event.type.startsWith("confirmation.") && id === `${order}-${operation}` ? words : null;
}

export default {
  role: "Supervisor", home: "work", label: "My work",
  routes: [[/^work(?:\?show=(all))?$/, list], [/^work\/([^/?]+)$/, detail]],
  changes,
};
