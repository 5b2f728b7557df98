// DOM helpers and formatting. Everything the API returns reaches the page as text (textContent), never as HTML.

/** h("button", {class: "fd-button", onclick: fn, "aria-label": "..."}, "text", child...) */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(container, ...children) {
  container.replaceChildren();
  append(container, children);
  return container;
}

let announcer;
/** Screen readers hear it (an aria-live region); nothing is shown. */
export function announce(text) {
  announcer ??= document.getElementById("announcer");
  if (!announcer) return;
  announcer.textContent = "";
  setTimeout(() => (announcer.textContent = text), 50);
}

// Fiori message strip: information, success, warning, error.
const STRIP = { information: "fd-message-strip--information", success: "fd-message-strip--success",
  warning: "fd-message-strip--warning", error: "fd-message-strip--error" };
export function strip(type, ...content) {
  return h("div", { class: `fd-message-strip ${STRIP[type]}`, role: type === "error" ? "alert" : "status" },
    h("p", { class: "fd-message-strip__text" }, ...content));
}

// Fiori object status: a state in words, its colour only a second cue.
const STATE = { positive: "fd-object-status--positive", critical: "fd-object-status--critical",
  negative: "fd-object-status--negative", informative: "fd-object-status--informative", neutral: "" };
export function status(text, state = "neutral") {
  return h("span", { class: `fd-object-status ${STATE[state]}` }, h("span", { class: "fd-object-status__text" }, text));
}

export function button(text, onclick, { kind = "", type = "button", label, disabled } = {}) {
  const kinds = { emphasized: "fd-button--emphasized", positive: "fd-button--positive",
    negative: "fd-button--negative", transparent: "fd-button--transparent", ghost: "fd-button--ghost" };
  return h("button", { class: `fd-button ${kinds[kind] ?? ""}`, type, onclick, "aria-label": label, disabled },
    h("span", { class: "fd-button__text" }, text));
}

export function title(text, level = 2) {
  return h(`h${level}`, { class: `fd-title fd-title--h${level + 2}` }, text);
}

/** A labelled form field: fd-form-item with its label bound to the control. */
let fieldCount = 0;
export function field(labelText, control, { hint, required } = {}) {
  const id = control.id || `field-${++fieldCount}`;
  control.id = id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  if (required) control.required = true;
  return h("div", { class: "fd-form-item app-field" },
    h("label", { class: `fd-form-label${required ? " fd-form-label--required" : ""}`, for: id }, labelText),
    control, hint && h("p", { class: "app-hint", id: hintId }, hint));
}

export function input(props = {}) {
  return h("input", { class: "fd-input", ...props });
}

/** A list of links (Fiori standard list, navigation mode): the whole row is one keyboard stop. */
export function navList(label, rows) {
  return h("ul", { class: "fd-list fd-list--navigation app-list", "aria-label": label },
    rows.map((row) => h("li", { class: "fd-list__item fd-list__item--link" },
      h("a", { class: "fd-list__link app-row", href: row.href, tabindex: 0 },
        h("span", { class: "app-row__main" },
          h("span", { class: "fd-list__title app-row__title" }, row.title),
          row.subtitle && h("span", { class: "app-row__sub" }, row.subtitle)),
        h("span", { class: "app-row__side" }, row.side)))));
}

/**
 * "Show more" under a navList: the next page (`next(cursor)` → {data: {items, next_cursor}}) appended to the same
 * list as rows (`toRows(items)`); the button goes when there is no next page.
 */
export function showMore(list, cursor, next, toRows) {
  if (!cursor) return null;
  const errors = h("div", { class: "app-errors" });
  const load = button("Show more", async () => {
    load.disabled = true;
    try {
      const { data } = await next(cursor);
      list.append(...navList("", toRows(data.items)).children);
      cursor = data.next_cursor;
      if (!cursor) load.remove();
    } catch (error) {
      replace(errors, strip("error", `Could not load more: ${error.message}`));
    } finally {
      load.disabled = false;
    }
  });
  return h("div", { class: "app-more" }, errors, load);
}

/**
 * Counts that are also filters (a Fiori launchpad tile's number): links to the list each one counts, the list on
 * screen marked current. items: [{href, count, label, current}]; a null item is left out.
 */
export function badges(label, items) {
  return h("nav", { "aria-label": label }, h("ul", { class: "app-badges" }, items.filter(Boolean).map((item) =>
    h("li", {}, h("a", { class: "app-badge", href: item.href, "aria-current": item.current ? "true" : null },
      h("strong", {}, format.number(item.count)), h("span", {}, item.label))))));
}

/** Label/value pairs (a Fiori object page's attributes). */
export function facts(pairs) {
  return h("dl", { class: "app-facts" }, pairs.filter(([, value]) => value !== undefined && value !== null && value !== "")
    .map(([term, value]) => h("div", { class: "app-fact" }, h("dt", {}, term), h("dd", {}, value))));
}

export function section(heading, ...content) {
  return h("section", { class: "app-section", "aria-label": heading }, title(heading, 2), ...content);
}

const locale = () => navigator.language || "en";
const number = (value) => Number(value).toLocaleString(locale(), { maximumFractionDigits: 3 });

export const format = {
  number,
  quantity: (q) => (q ? `${number(q.value)} ${q.unit}` : "–"),
  amount: (a) => (a ? Number(a.value).toLocaleString(locale(), { style: "currency", currency: a.currency }) : "–"),
  // SAP dates are calendar days: shown as such, never shifted by the device's time zone.
  date: (iso) => (iso ? new Date(`${iso.slice(0, 10)}T00:00:00`).toLocaleDateString(locale(),
    { day: "numeric", month: "short", year: "numeric" }) : "–"),
  dateTime: (iso) => (iso ? new Date(iso).toLocaleString(locale(),
    { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }) : "–"),
  time: (date) => date.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" }),
};

export function today() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
}
