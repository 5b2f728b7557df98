// Plant manager: the production orders of my plants, exceptions first (late to start or finish, missing parts,
// due for release, in progress; SAP counts each badge, the list shows the orders behind one). An order: its dates,
// status in words, operations; release it, or move its planned dates with the ETag it was read with (someone
// else's change in SAP in between is refused, and the screen offers to reload).

import { badges, button, facts, field, format, h, input, navList, replace, section, showMore, status, strip, today } from "./ui.js";

const path = (id) => `production-orders/${encodeURIComponent(id)}`;
const PAGE = 50;
const DONE = new Set(["DLV", "TECO", "CLSD", "DLFL"]); // delivered or finished: no longer late
const UNCHANGEABLE = new Set(["TECO", "CLSD", "DLFL"]);

// The badges, most urgent first; the list opens on the first that has orders. `sort` puts the worst on top.
const EXCEPTIONS = [
  { key: "late_to_start", label: "Late to start", sort: "planned_start",
    about: () => "Not released, and the planned start has passed." },
  { key: "late_to_finish", label: "Late to finish", sort: "planned_end",
    about: () => "Not delivered, and the planned end has passed." },
  { key: "missing_components", label: "Missing parts", sort: "planned_start",
    about: () => "SAP's availability check could not confirm every component still to be issued." },
  { key: "due_for_release", label: "Due for release", sort: "planned_start",
    about: (counts) => `Not released, planned to start by ${format.date(counts.release_window_end)}.` },
  { key: "in_progress", label: "In progress", sort: "planned_end",
    about: () => "Released, not yet finally confirmed or delivered." },
];

const STATE = { CRTD: "neutral", PREL: "informative", REL: "informative", PCNF: "informative", CNF: "positive",
  DLV: "positive", TECO: "neutral", CLSD: "neutral", DLFL: "negative" };

function timeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}
const tz = () => `tz=${encodeURIComponent(timeZone())}`;

/** Why the order is late, in words (none when it is not), judged against the plant's `today`. */
function lateness(order, today) {
  const late = [];
  if (!order.is_released && order.planned_start && order.planned_start < today) late.push("Late to start");
  if (!DONE.has(order.status.code) && order.planned_end && order.planned_end < today) late.push("Late to finish");
  return late;
}

function orderStatus(order, today, missing = false) {
  return [
    status(order.status.text, STATE[order.status.code] ?? "neutral"),
    order.is_locked ? status("Locked", "critical") : null,
    ...lateness(order, today).map((text) => status(text, "negative")),
    missing ? status("Missing parts", "critical") : null,
  ];
}

/** "Oct 2 – 9, 2026": a planned span as one range, calendar days (never shifted by the device's time zone). */
function span(from, to) {
  if (!from || !to) return `${format.date(from)} – ${format.date(to)}`;
  const day = (iso) => new Date(`${iso.slice(0, 10)}T00:00:00`);
  try {
    return new Intl.DateTimeFormat(navigator.language || "en", { day: "numeric", month: "short", year: "numeric" })
      .formatRange(day(from), day(to));
  } catch {
    return `${format.date(from)} – ${format.date(to)}`;
  }
}
const dates = (order) => span(order.planned_start, order.planned_end);

function rows(orders, today, missing) {
  return orders.map((order) => ({
    href: `#/orders/${encodeURIComponent(order.order_id)}`,
    title: `${order.order_id} · ${order.material}`,
    subtitle: `${format.quantity(order.planned_quantity)} · ${dates(order)}`,
    side: h("span", { class: "pm-states" }, orderStatus(order, today, missing)),
  }));
}

async function list(ctx, wanted) {
  const chosen = EXCEPTIONS.find((exception) => exception.key === wanted);
  const ordersOf = (exception, cursor) => ctx.get(`production-orders?exception=${exception.key}&${tz()}`
    + `&sort=${exception.sort}&limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
  const [{ data: counts }, first] = await Promise.all([ctx.get(`production-orders/counts?${tz()}`),
    chosen ? ordersOf(chosen) : null]);
  const exception = chosen ?? EXCEPTIONS.find((e) => counts[e.key] > 0) ?? EXCEPTIONS.at(-1);
  const { data: page } = first ?? await ordersOf(exception);
  const filters = badges("Exceptions", EXCEPTIONS.map((e) => ({ href: `#/orders?exception=${e.key}`,
    count: counts[e.key], label: e.label, current: e.key === exception.key })));
  const missing = exception.key === "missing_components";
  const orders = page.items.length ? navList(`${exception.label}: orders`, rows(page.items, counts.today, missing)) : null;
  return {
    heading: "Production orders",
    body: [
      h("p", { class: "app-summary" }, `Plant ${counts.plants.join(", ")} · today ${format.date(counts.today)}`),
      filters,
      section(`${exception.label} (${format.number(counts[exception.key])})`,
        h("p", { class: "app-summary" }, exception.about(counts)),
        orders ?? h("p", { class: "app-empty" }, "No orders here."),
        orders && showMore(orders, page.next_cursor, (cursor) => ordersOf(exception, cursor),
          (items) => rows(items, counts.today, missing))),
    ],
  };
}

async function detail(ctx, id) {
  const [{ data: order }, outcomes] = await Promise.all([
    ctx.get(path(id)),
    ctx.get("writebacks?limit=50").then((r) => r.data.items).catch(() => []),
  ]);
  // `?? []`: a detail saved for offline use before the API named missing parts has no such field.
  const parts = order.missing_components ?? [];
  const missing = parts.length > 0;
  const changeable = !UNCHANGEABLE.has(order.status.code) && !order.is_locked;
  const errors = h("div", { class: "app-errors pm-errors" });
  const releaseButton = changeable && !order.is_released
    && button("Release", () => release(ctx, order, releaseButton, errors), { kind: "emphasized" });
  const last = lastOutcome(outcomes, order.order_id);
  return {
    heading: `Order ${order.order_id}`,
    body: [
      h("p", { class: "app-lead" }, `${order.material} · ${format.quantity(order.planned_quantity)}`),
      // Late by the device's day: the time zone the list's badges are counted in, too.
      h("p", { class: "pm-states pm-states--lead" }, orderStatus(order, today(), missing)),
      errors,
      missing ? strip("warning", "Missing parts: SAP's availability check could not confirm every component. "
        + (order.is_released ? "" : "SAP still releases the order, with a warning.")) : null,
      last,
      facts([
        ["Confirmed so far", order.confirmed_yield && format.quantity(order.confirmed_yield)],
        ["Planned start", format.date(order.planned_start)],
        ["Planned end", format.date(order.planned_end)],
        ["Scheduled start", order.scheduled_start !== order.planned_start ? format.date(order.scheduled_start) : null],
        ["Scheduled end", order.scheduled_end !== order.planned_end ? format.date(order.scheduled_end) : null],
        ["Planned scrap", Number(order.planned_scrap?.value) ? format.quantity(order.planned_scrap) : null],
        ["Plant", order.plant],
        ["Order type", order.order_type],
        ["MRP controller", order.mrp_controller],
        ["Production supervisor", order.production_supervisor],
        ["Last changed in SAP", format.dateTime(order.last_changed)],
      ]),
      missing ? section("Missing parts", partList(parts)) : null,
      section("Status in SAP", statusList(order.statuses)),
      section("Operations", operationList(order.operations)),
      changeable ? section("Reschedule", rescheduleForm(ctx, order, errors))
        : strip("information", order.is_locked ? "The order is locked in SAP: it cannot be released or rescheduled now."
          : "The order is finished in SAP: nothing more to release or reschedule."),
    ],
    footer: releaseButton ? [releaseButton] : [],
  };
}

/** The components SAP's availability check left short: how much is missing of what is required, and by when. */
function partList(parts) {
  return h("ul", { class: "fd-list app-list", "aria-label": "Components short" }, parts.map((part) =>
    h("li", { class: "fd-list__item pm-part", dataset: { reservationItem: part.reservation_item } },
      h("div", { class: "app-row__main" },
        h("span", { class: "app-row__title" }, part.material),
        h("span", { class: "app-row__sub" }, `${format.quantity(part.missing_quantity)} missing of `
          + `${format.quantity(part.required_quantity)} · needed by ${format.date(part.requirement_date)}`)))));
}

/** What SAP said to my last release or reschedule of this order, once it succeeded. */
function lastOutcome(writebacks, orderId) {
  const item = writebacks.find((w) => w.target?.id === orderId && ["order.release", "order.reschedule"].includes(w.type));
  if (!item || item.status !== "succeeded") return null;
  const what = item.type === "order.release" ? "released" : "rescheduled";
  const messages = item.result?.messages?.filter(Boolean) ?? [];
  const warned = item.result?.message_details?.some((m) => ["warning", "error"].includes(m.severity));
  return h("div", { class: "pm-outcome" }, strip(warned ? "warning" : "success",
    `You ${what} this order ${format.dateTime(item.finished_at ?? item.updated_at)}.`,
    messages.length ? ` SAP said: ${messages.join(" ")}` : ""));
}

function statusList(statuses) {
  if (!statuses.length) return h("p", { class: "app-empty" }, "SAP shows no status.");
  return h("ul", { class: "pm-statuses", "aria-label": "Statuses" }, statuses.map((s) =>
    h("li", { class: "pm-status" }, s.text, s.is_user_status ? h("span", { class: "app-row__sub" }, " (set by users)") : null)));
}

function operationProgress(operation) {
  if (operation.is_confirmed) return status("Finally confirmed", "positive");
  if (operation.is_partially_confirmed) return status("Partially confirmed", "informative");
  if (operation.is_released) return status("Not started", "neutral");
  return status("Not released", "neutral");
}

function operationList(operations) {
  if (!operations.length) return h("p", { class: "app-empty" }, "No operations.");
  return h("ul", { class: "fd-list app-list", "aria-label": "Operations in sequence" }, operations.map((op) =>
    h("li", { class: "fd-list__item pm-operation", dataset: { operation: op.operation } },
      h("div", { class: "app-row__main" },
        h("span", { class: "app-row__title" }, `${op.operation} ${op.text}`),
        h("span", { class: "app-row__sub" }, `Work centre ${op.work_center} · ${span(op.earliest_start, op.earliest_end)}`),
        h("span", { class: "app-row__sub" }, `${format.quantity(op.confirmed_yield)} of `
          + `${format.quantity(op.planned_quantity)} confirmed · ${format.quantity(op.quantity_to_go)} to go`)),
      h("span", { class: "app-row__side" }, operationProgress(op)))));
}

/** Next to a refusal: reading the order again is the way out (a 412 above all: someone changed it in SAP). */
function offerReload(ctx, errors) {
  errors.append(button("Reload", () => ctx.refresh(), { kind: "ghost" }));
  errors.scrollIntoView({ block: "center" });
}

async function release(ctx, order, releaseButton, errors) {
  replace(errors);
  releaseButton.disabled = true;
  const ok = await ctx.act("POST", `${path(order.order_id)}/release`, {},
    { label: `Release of order ${order.order_id}`, errorSlot: errors });
  if (!ok) {
    releaseButton.disabled = false;
    offerReload(ctx, errors);
  }
}

function rescheduleForm(ctx, order, errors) {
  const day = (name, value) => input({ name, type: "date", value: value ?? "", min: "2000-01-01", max: "2099-12-31" });
  const start = day("planned_start", order.planned_start);
  const end = day("planned_end", order.planned_end);
  const formErrors = h("div", { class: "app-errors pm-errors" });
  const send = button("Reschedule", null, { kind: "emphasized", type: "submit" });
  const form = h("form", { class: "app-form", novalidate: true, "aria-label": "New planned dates" },
    field("New planned start", start, { required: true, hint: `Now ${format.date(order.planned_start)}` }),
    field("New planned end", end, { required: true,
      hint: `Now ${format.date(order.planned_end)}. SAP moves the operations with the order.` }),
    formErrors,
    h("div", { class: "app-form__actions" }, send));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(formErrors);
    replace(errors);
    const body = { planned_start: start.value, planned_end: end.value };
    const problem = !body.planned_start || !body.planned_end ? "Give both dates."
      : body.planned_start > body.planned_end ? "The start must not be after the end."
        : body.planned_start === order.planned_start && body.planned_end === order.planned_end
          ? "These are the dates the order has already." : null;
    if (problem) {
      formErrors.append(strip("error", problem));
      return start.focus();
    }
    send.disabled = true;
    const label = `Reschedule of order ${order.order_id} to ${span(body.planned_start, body.planned_end)}`;
    // The order's ETag in SAP (sap_etag), not the HTTP one of this response: SAP compares it with its own.
    const ok = await ctx.act("PATCH", path(order.order_id), body, { label, ifMatch: order.sap_etag, errorSlot: formErrors });
    send.disabled = false;
    if (!ok) offerReload(ctx, formErrors);
  });
  return form;
}

const NEWS = {
  "production-order.created": (order) => `Order ${order} was created in SAP.`,
  "production-order.changed": (order) => `Order ${order} was changed in SAP.`,
  "production-order.released": (order) => `Order ${order} was released in SAP.`,
  "confirmation.created": (order) => `Work on order ${order} was confirmed in SAP.`,
  "confirmation.cancelled": (order) => `A confirmation of order ${order} was undone in SAP.`,
};

/** What a live event changes here, in words: the list (its badges count every order), or the order on show. */
function changes(event, view, [id]) {
  const order = event.data?.data?.order;
  const words = NEWS[event.type];
  if (!words || !order) return null;
  return view === list || (view === detail && id === order) ? words(order) : null;
}

export default {
  role: "PlantManager", home: "orders", label: "Orders",
  routes: [
    [/^orders(?:\?exception=([a-z_]+))?$/, list],
    [/^orders\/([^/?]+)$/, detail],
  ],
  changes,
};
