// Executive: the approval inbox (overdue and most urgent first, badge counts as filters), one task with what is
// being approved (a purchase requisition's items, amounts, suppliers and accounting), approve or reject with a
// comment, claim, hand back, forward; several tasks decided at once with a result per task; what I decided here.

import { badges, button, facts, field, format, h, input, navList, replace, section, status, strip } from "./ui.js";
import { FINAL } from "./writebacks.js";

const path = (id) => `approvals/${encodeURIComponent(id)}`;
const taskHref = (id) => `#/approvals/${encodeURIComponent(id)}`;
const OPEN = new Set(["READY", "RESERVED", "IN_PROGRESS"]);

const PRIORITIES = [["VERY_HIGH", "Very high"], ["HIGH", "High"], ["MEDIUM", "Medium"], ["LOW", "Low"]];
const PRIORITY_STATE = { VERY_HIGH: "negative", HIGH: "critical", MEDIUM: "neutral", LOW: "neutral" };
const STATUS_WORDS = { READY: "Open", RESERVED: "Claimed by you", IN_PROGRESS: "In progress", COMPLETED: "Decided",
  EXECUTED: "Decided", FOR_RESUBMISSION: "Put aside for later", CANCELLED: "Withdrawn" };
const VERB = { approve: "Approving", reject: "Rejecting" };
const NATURE_DECISION = { POSITIVE: "approve", NEGATIVE: "reject" };

// What this tab did last, kept while the app is open: the inbox re-renders after each writeback succeeds, and the
// task's screen explains a 404 that follows our own decision or forward.
const inbox = { selecting: false, selected: new Set(), batch: null };
const doneHere = new Map(); // task id -> "approve" | "reject" | "forward:<user>"

const priorityText = (priority) => `${PRIORITIES.find(([key]) => key === priority)?.[1] ?? priority} priority`;
const plural = (count, word) => `${count} ${word}${count === 1 ? "" : "s"}`;

/** "Overdue, due 2 days ago", "Due in 5 days", "Due tomorrow": how far the deadline is, in words. */
function dueWords(task) {
  if (!task.due) return "No deadline";
  const words = new Intl.RelativeTimeFormat(navigator.language || "en", { numeric: "auto" });
  const hours = (new Date(task.due) - Date.now()) / 3_600_000;
  const relative = Math.abs(hours) < 24 ? words.format(Math.round(hours), "hour") : words.format(Math.round(hours / 24), "day");
  return task.overdue || hours < 0 ? `Overdue, was due ${relative}` : `Due ${relative}`;
}

function dueStatus(task) {
  return task.overdue ? status(dueWords(task), "negative") : h("span", {}, dueWords(task));
}

function substitution(task) {
  return task.received_as_substitute ? `You have this as substitute for ${task.substituted_user}` : null;
}

// ---- the inbox ---------------------------------------------------------------------------------------------

const PAGE = 50;
const URGENT = "sort=-priority&sort=due";
// The API filters (SAP counts the badges the same way), so a list holds exactly what its badge counts.
const FILTERS = {
  overdue: { words: "overdue tasks", query: "overdue=true&sort=due&sort=-priority" },
  escalated: { words: "escalated tasks", query: `escalated=true&${URGENT}` },
  ...Object.fromEntries(PRIORITIES.map(([key, text]) => [key,
    { words: `${text.toLowerCase()} priority tasks`, query: `priority=${key}&sort=due` }])),
};

function inboxBadges(counts, show) {
  const badge = (key, count, label) => ({ href: key ? `#/approvals?show=${key}` : "#/approvals", count, label,
    current: (show ?? "") === (key ?? "") });
  return badges("Show only", [
    badge(null, counts.open, "Open"),
    badge("overdue", counts.overdue, "Overdue"),
    counts.escalated === null ? null : badge("escalated", counts.escalated, "Escalated"),
    ...PRIORITIES.map(([key, text]) => badge(key, counts.by_priority[key], text)),
  ]);
}

// The inbox without a filter: overdue first, then the rest, each most urgent first and with its own "Show more".
const INBOX = [
  { title: "Overdue", count: (counts) => counts.overdue, words: "overdue tasks",
    label: "Tasks to decide: overdue, most urgent first", query: `overdue=true&${URGENT}` },
  { title: "Other open tasks", count: (counts) => counts.open - counts.overdue, words: "other open tasks",
    label: "Tasks to decide: not overdue, most urgent first", query: `overdue=false&${URGENT}` },
];

const groupsOf = (filter) => (filter ? [{ words: filter.words, label: `Tasks to decide: ${filter.words}`,
  query: filter.query }] : INBOX);

const pageOf = (ctx, group, cursor) => ctx.get(`approvals?${group.query}&limit=${PAGE}`
  + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "")).then((result) => result.data);

function rowParts(task) {
  return {
    title: task.title,
    subtitle: [`From ${task.created_by_name}`, " · ", dueStatus(task),
      substitution(task) && ` · ${substitution(task)}`],
    side: [status(priorityText(task.priority), PRIORITY_STATE[task.priority]),
      task.is_escalated ? status("Escalated", "negative") : null],
  };
}

async function list(ctx, show) {
  const filter = FILTERS[show];
  if (show && !filter) return { heading: "Approvals", body: [strip("warning", "There is no such filter. ",
    h("a", { href: "#/approvals" }, "Show all open tasks"))] };
  const [{ data: counts }, ...pages] = await Promise.all([ctx.get("approvals/counts"),
    ...groupsOf(filter).map((group) => pageOf(ctx, group))]);
  const groups = groupsOf(filter).map((group, i) => ({ ...group, tasks: pages[i].items, cursor: pages[i].next_cursor,
    slot: h("div", {}) }));
  const allTasks = () => groups.flatMap((group) => group.tasks);
  const empty = h("p", { class: "app-empty" },
    filter ? `No ${filter.words} in your inbox.` : "Nothing is waiting for your approval.");
  for (const group of groups) {
    group.more = h("div", { class: "app-form__actions" }, moreButton(group));
    group.box = group.title ? section(`${group.title} (${format.number(group.count(counts))})`, group.slot, group.more)
      : h("div", {}, group.slot, group.more);
  }
  const listSlot = h("div", {}, empty, groups.map((group) => group.box));
  const comment = h("textarea", { class: "fd-textarea app-exec-textarea", name: "mass-comment", rows: 2, maxlength: 1000 });
  const mass = h("div", { class: "app-exec-mass", hidden: !inbox.selecting },
    field("Comment for all selected (optional)", comment, { hint: "Some tasks can only be rejected with a comment" }));
  const counter = h("p", { class: "app-summary", role: "status" });

  const select = button("Select several", () => setSelecting(true));
  const approve = button("Approve selected", () => decideSelected("approve"), { kind: "positive" });
  const reject = button("Reject selected", () => decideSelected("reject"), { kind: "negative" });
  const cancel = button("Cancel", () => setSelecting(false), { kind: "transparent", label: "Cancel selecting" });

  function setSelecting(on) {
    inbox.selecting = on;
    if (!on) inbox.selected.clear();
    draw();
    // The pressed button is hidden now: the focus goes where the work continues.
    (on ? listSlot.querySelector("input") : select)?.focus();
  }

  /** "Show more": the group's next page appended; the focus goes to the first task it brought. */
  function moreButton(group) {
    const more = button("Show more", async () => {
      more.disabled = true;
      try {
        const page = await pageOf(ctx, group, group.cursor);
        const shown = group.tasks.length;
        // A task whose sort key changed meanwhile may come again (see the API's `cursor`): shown once.
        group.tasks = [...group.tasks, ...page.items.filter((task) => !group.tasks.some((t) => t.id === task.id))];
        group.cursor = page.next_cursor;
        draw();
        group.slot.querySelectorAll("li")[shown]?.querySelector("a, input")?.focus();
      } catch (error) {
        group.slot.append(strip("error", `Could not load more ${group.words}: ${error.message}`));
      } finally {
        more.disabled = false;
      }
    }, { label: `Show more ${group.words}` });
    return more;
  }

  function draw() {
    const tasks = allTasks();
    for (const id of inbox.selected) if (!tasks.some((task) => task.id === id)) inbox.selected.delete(id);
    controls();
    empty.hidden = tasks.length > 0;
    for (const group of groups) {
      group.box.hidden = !tasks.length;
      if (!group.cursor) group.more.remove(); // its list is complete: a cursor never comes back
      replace(group.slot, !group.tasks.length ? h("p", { class: "app-empty" }, `No ${group.words}.`)
        : inbox.selecting ? pickList(group.tasks, controls, `Select ${group.words} to decide together`)
          : navList(group.label, group.tasks.map((task) => ({ href: taskHref(task.id), ...rowParts(task) }))));
    }
  }

  /** The buttons and the count follow the selection; the list stays as it is (and keeps the focus). */
  function controls() {
    const count = inbox.selected.size;
    mass.hidden = !inbox.selecting;
    select.hidden = inbox.selecting || !allTasks().length;
    for (const node of [approve, reject, cancel]) node.hidden = !inbox.selecting;
    approve.disabled = reject.disabled = !count;
    approve.querySelector(".fd-button__text").textContent = count ? `Approve ${count} selected` : "Approve selected";
    reject.querySelector(".fd-button__text").textContent = count ? `Reject ${count} selected` : "Reject selected";
    counter.textContent = inbox.selecting ? `${plural(count, "task")} selected` : "";
  }

  async function decideSelected(decision) {
    const chosen = allTasks().filter((task) => inbox.selected.has(task.id));
    if (!chosen.length) return;
    const text = comment.value.trim();
    inbox.batch = { decision, rows: chosen.map((task) => ({ id: task.id, title: task.title, state: "sending" })) };
    inbox.selecting = false;
    inbox.selected.clear();
    approve.disabled = reject.disabled = true;
    await Promise.all(inbox.batch.rows.map(async (row) => {
      const slot = h("div");
      const body = { decision, comment: text };
      const label = `${VERB[decision]} ${row.title}`;
      const ok = await ctx.act("POST", `${path(row.id)}/decision`, body, { label, errorSlot: slot });
      // The API's words without the status code the shell adds for support ("… (422)").
      const message = slot.textContent.replace(/ \(\d{3}\)$/, "");
      Object.assign(row, ok ? { state: "sent" } : { state: "refused", message });
      if (ok) doneHere.set(row.id, decision);
    }));
    ctx.refresh();
  }

  draw();
  return {
    heading: "Approvals",
    body: [
      inboxBadges(counts, show),
      h("p", { class: "app-summary" }, filter
        ? [`Showing ${filter.words}. `, h("a", { href: "#/approvals", class: "app-exec-link" }, "Show all open tasks")]
        : `${plural(counts.open, "open task")}, overdue and most urgent first.`),
      inbox.batch ? await batchResults(ctx, inbox.batch) : null,
      mass, counter, listSlot,
      navList("Your decisions", [{ href: "#/approvals/decided", title: "Decided by me",
        subtitle: "What you approved or rejected in this app" }]),
    ],
    footer: [select, cancel, reject, approve],
  };
}

/** The inbox in selection mode: one labelled checkbox per task, the whole row its label. */
function pickList(tasks, onChange, label = "Select tasks to decide together") {
  return h("ul", { class: "fd-list app-list app-exec-picks", "aria-label": label },
    tasks.map((task) => {
      const box = h("input", { type: "checkbox", class: "app-checkbox", id: `pick-${task.id}`, name: "pick",
        value: task.id, checked: inbox.selected.has(task.id),
        onchange: (event) => {
          if (event.target.checked) inbox.selected.add(task.id);
          else inbox.selected.delete(task.id);
          onChange();
        } });
      const { title: text, subtitle, side } = rowParts(task);
      return h("li", { class: "fd-list__item app-exec-pick", dataset: { task: task.id } }, box,
        h("label", { for: box.id, class: "app-row" },
          h("span", { class: "app-row__main" }, h("span", { class: "app-row__title" }, text),
            h("span", { class: "app-row__sub" }, subtitle)),
          h("span", { class: "app-row__side" }, side)));
    }));
}

// ---- the result of a mass decision, per task -----------------------------------------------------------------

function batchWords(row, writeback, decision) {
  const sap = writeback?.last_error?.message ? ` SAP: ${writeback.last_error.message}` : "";
  if (row.state === "sending") return ["Sending…", "informative"];
  if (row.state === "refused") return [`Not sent: ${row.message}`, "negative"];
  if (!writeback) return ["Waiting for the network; sent when you are back online", "informative"];
  switch (writeback.status) {
    case "succeeded": return [decision === "approve" ? "Approved in SAP" : "Rejected in SAP", "positive"];
    case "conflict": return [`Someone decided it in SAP first.${sap}`, "critical"];
    case "rejected": return [`SAP refused it.${sap}`, "negative"];
    case "in_doubt": return ["No answer from SAP yet; checking whether it landed", "critical"];
    case "dead": case "discarded": return [`Could not be applied; an administrator was alerted.${sap}`, "negative"];
    default: return ["Sent, waiting for SAP", "informative"];
  }
}

/** Our writebacks for these tasks, newest first: the newest decision per task is the one just sent. */
async function batchWritebacks(ctx, batch) {
  const limit = Math.min(200, batch.rows.length * 2 + 20);
  const { data } = await ctx.get(`writebacks?limit=${limit}`).catch(() => ({ data: { items: [] } }));
  return new Map(batch.rows.map((row) => [row.id,
    data.items.find((w) => w.type === "task.decision" && w.target?.id === row.id)]));
}

async function batchResults(ctx, batch) {
  const listEl = h("ul", { class: "fd-list app-list", "aria-label": "Result per task" });
  const close = button("Done", () => { inbox.batch = null; panel.remove(); }, { kind: "transparent",
    label: "Done: close these results" });
  const verb = batch.decision === "approve" ? "Approve" : "Reject";
  const panel = section(`${verb} ${plural(batch.rows.length, "task")}: result per task`,
    listEl, h("div", { class: "app-form__actions" }, close));
  panel.classList.add("app-exec-results");
  const fill = (writebacks) => replace(listEl, batch.rows.map((row) => {
    const [text, state] = batchWords(row, writebacks.get(row.id), batch.decision);
    return h("li", { class: "fd-list__item app-history", dataset: { task: row.id } },
      h("div", { class: "app-row__main" }, h("a", { class: "app-row__title", href: taskHref(row.id) }, row.title),
        status(text, state)));
  }));
  let writebacks = await batchWritebacks(ctx, batch);
  fill(writebacks);
  // Follow the ones still on their way: a refusal by SAP re-renders nothing by itself.
  const follow = async () => {
    if (!panel.isConnected || inbox.batch !== batch) return;
    const open = batch.rows.some((row) => row.state === "sent" && !FINAL.has(writebacks.get(row.id)?.status ?? "succeeded"));
    if (!open) return;
    writebacks = await batchWritebacks(ctx, batch);
    if (panel.isConnected) fill(writebacks);
    setTimeout(follow, 1500);
  };
  setTimeout(follow, 1500);
  return panel;
}

// ---- one task ------------------------------------------------------------------------------------------------

async function detail(ctx, id) {
  let task;
  try {
    ({ data: task } = await ctx.get(path(id)));
  } catch (error) {
    if (error.status === 404) return gone(id);
    throw error;
  }
  const open = OPEN.has(task.status) && !task.decision;
  const state = STATUS_WORDS[task.status] ?? task.status;
  const options = open ? await ctx.get(`${path(id)}/decision-options`).then((r) => r.data.items).catch(() => []) : [];
  return {
    heading: task.title,
    body: [
      h("p", { class: "app-lead app-exec-lead" }, task.task_type_name),
      substitution(task) && strip("information", `${substitution(task)}.`),
      task.decision ? decided(task.decision) : null,
      !open && !task.decision ? strip("information", `${state} in SAP: nothing left to decide.`) : null,
      facts([
        ["Requested by", task.created_by_name],
        ["Received", format.dateTime(task.created_on)],
        ["Deadline", task.due ? [format.dateTime(task.due), open ? [" · ", dueStatus(task)] : null] : "None"],
        ["Priority", status(priorityText(task.priority), PRIORITY_STATE[task.priority])],
        ["Status", [state, task.is_escalated ? [" · ", status("Escalated", "negative")] : null]],
      ]),
      task.purchase_requisition ? requisition(task, task.purchase_requisition) : otherDetails(task),
      open ? decisionForm(ctx, task, options) : null,
      open ? otherActions(ctx, task) : null,
    ],
  };
}

function gone(id) {
  const what = doneHere.get(id);
  const text = what?.startsWith("forward:") ? `Forwarded to ${what.slice(8)}: no longer in your inbox.`
    : what ? "Decided: no longer in your inbox."
      : "This task is no longer in your inbox: it was decided or passed on to someone else.";
  return {
    heading: "No longer in your inbox",
    body: [strip(what ? "success" : "information", text), h("p", {},
      h("a", { class: "app-exec-link", href: "#/approvals" }, "Back to your approvals"))],
  };
}

function decided(decision) {
  const how = { approve: "Approved", reject: "Rejected" }[decision.decision];
  const said = how && decision.text.toLowerCase() === decision.decision ? "" : ` (SAP: “${decision.text}”)`;
  const note = strip(decision.decision === "reject" ? "warning" : "success",
    `${how ?? "Decided"} by ${decision.decided_by} on ${format.dateTime(decision.decided_at)}${said}.`);
  note.classList.add("app-exec-decided");
  return note;
}

const totalOf = (amounts) => (amounts.length ? amounts.map(format.amount).join(" + ") : "–");

function requisition(task, pr) {
  return section("What is requested",
    facts([
      ["Purchase requisition", pr.requisition_id.replace(/^0+/, "")],
      ["Total", h("strong", { class: "app-exec-total" }, totalOf(pr.total_net_amounts))],
      ["Requested by", task.created_by_name],
      ["Description", pr.description],
    ]),
    pr.items.length ? h("ul", { class: "fd-list app-list app-exec-items", "aria-label": `${plural(pr.items.length, "item")}` },
      pr.items.map((item) => h("li", { class: "fd-list__item app-exec-item", dataset: { item: item.item } },
        h("div", { class: "app-row__main" },
          h("span", { class: "app-row__title" }, item.description || item.material),
          facts([
            ["Quantity", format.quantity(item.quantity)],
            ["Price each", format.amount(item.price)],
            ["Amount", format.amount(item.net_amount)],
            ["Delivery by", format.date(item.delivery_date)],
            ["Supplier", supplier(item)],
            ["Material", item.material],
            ["Plant", item.plant],
            ["Charged to", chargedTo(item)],
          ]))))) : h("p", { class: "app-empty" }, "SAP lists no items for this requisition."));
}

function supplier(item) {
  if (item.fixed_supplier) return `${item.fixed_supplier} (fixed)`;
  if (item.desired_supplier) return `${item.desired_supplier} (requester's choice)`;
  return "Not chosen yet";
}

const CATEGORY = { K: "Cost centre", P: "Project", F: "Order", A: "Asset", "": "Stock" };

function chargedTo(item) {
  if (!item.account_assignments.length) return CATEGORY[item.account_assignment_category] ?? item.account_assignment_category;
  return h("ul", { class: "app-exec-accounts" }, item.account_assignments.map((line) => h("li", {}, [
    line.cost_center && `Cost centre ${line.cost_center}`,
    line.wbs_element && `Project ${line.wbs_element}`,
    line.order_id && `Order ${line.order_id}`,
    line.asset && `Asset ${line.asset}`,
    line.gl_account && `G/L account ${line.gl_account.replace(/^0+/, "")}`,
    line.share_percent && `${format.number(line.share_percent)} %`,
    line.net_amount && format.amount(line.net_amount),
  ].filter(Boolean).join(" · "))));
}

/** SAP's attribute names (TotalNetAmount) in words (Total net amount). */
const words = (name) => name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/_/g, " ")
  .replace(/^./, (c) => c.toUpperCase()).replace(/ (\w)/g, (m, c) => ` ${c.toLowerCase()}`);

function otherDetails(task) {
  const attributes = Object.entries(task.attributes);
  if (!attributes.length && !task.objects.length) {
    return section("Details", h("p", { class: "app-empty" }, "SAP sends no further details for this kind of task."));
  }
  return section("Details",
    attributes.length ? facts(attributes.map(([name, value]) => [words(name), value])) : null,
    task.objects.length ? h("ul", { class: "fd-list app-list", "aria-label": "Attached in SAP" },
      task.objects.map((object) => h("li", { class: "fd-list__item" }, h("div", { class: "app-row__main" },
        h("span", { class: "app-row__title" }, object.label || object.object_id),
        h("span", { class: "app-row__sub" }, `${object.type} ${object.object_id}`))))) : null);
}

function decisionForm(ctx, task, options) {
  const errors = h("div", { class: "app-errors" });
  const usable = options.filter((option) => NATURE_DECISION[option.nature]);
  const other = options.filter((option) => !NATURE_DECISION[option.nature]);
  const mandatory = usable.filter((option) => option.comment_mandatory).map((option) => option.text.toLowerCase());
  const comment = h("textarea", { class: "fd-textarea app-exec-textarea", name: "comment", rows: 3, maxlength: 1000 });
  const buttons = usable.map((option) => button(option.text, () => decide(option), {
    kind: option.nature === "POSITIVE" ? "positive" : "negative", label: `${option.text}: ${task.title}` }));
  async function decide(option) {
    replace(errors);
    const decision = NATURE_DECISION[option.nature];
    if (option.comment_mandatory && !comment.value.trim()) {
      errors.append(strip("error", `Please write a comment: SAP needs one to ${option.text.toLowerCase()}.`));
      return comment.focus();
    }
    for (const b of buttons) b.disabled = true;
    const ok = await ctx.act("POST", `${path(task.id)}/decision`, { decision, comment: comment.value.trim() },
      { label: `${VERB[decision]} ${task.title}`, errorSlot: errors });
    if (ok) {
      doneHere.set(task.id, decision);
      errors.append(strip("information", `${option.text}: sent to SAP. This screen updates when SAP has it.`));
    } else for (const b of buttons) b.disabled = false;
  }
  return section("Your decision",
    h("form", { class: "app-form", novalidate: true, "aria-label": "Your decision", onsubmit: (e) => e.preventDefault() },
      errors,
      field("Comment", comment, { hint: mandatory.length ? `Needed to ${mandatory.join(" or ")}; SAP keeps it with the task`
        : "Optional; SAP keeps it with the task" }),
      usable.length ? h("div", { class: "app-form__actions" }, buttons)
        : strip("warning", "SAP offers no approve or reject for this task here; decide it in SAP."),
      other.length ? h("p", { class: "app-hint" },
        `SAP also offers ${other.map((option) => `“${option.text}”`).join(", ")}; choose that in SAP itself.`) : null));
}

function otherActions(ctx, task) {
  const errors = h("div", { class: "app-errors" });
  const act = (what, verb, body) => async (event) => {
    const pressed = event.currentTarget;
    replace(errors);
    pressed.disabled = true;
    const ok = await ctx.act("POST", `${path(task.id)}/${what}`, body, { label: `${verb} ${task.title}`, errorSlot: errors });
    if (!ok) pressed.disabled = false;
  };
  const claim = task.supports_claim && task.status === "READY" && h("div", { class: "app-exec-action" },
    button("Claim", act("claim", "Claiming", {}), { label: "Claim this task" }),
    h("p", { class: "app-hint" }, "Only you see it until you decide or hand it back."));
  const release = task.supports_release && task.status !== "READY" && h("div", { class: "app-exec-action" },
    button("Hand back", act("release", "Handing back", {}), { label: "Hand back this task" }),
    h("p", { class: "app-hint" }, "Everyone who can approve it sees it again."));
  const forward = task.supports_forward && forwardForm(ctx, task, errors);
  if (!claim && !release && !forward) return null;
  return section("Other actions", errors, claim, release, forward);
}

function forwardForm(ctx, task, errors) {
  const user = input({ name: "forward-to", autocomplete: "off", autocapitalize: "characters", spellcheck: "false",
    maxlength: 12, pattern: "[A-Za-z0-9._\\-]{1,12}" });
  const send = button("Forward", null, { type: "submit" });
  const form = h("form", { class: "app-form app-exec-forward", novalidate: true, "aria-label": "Forward to someone else" },
    field("Forward to (SAP user)", user, { hint: "Their SAP user name, for example EXEC_BEN" }),
    h("div", { class: "app-form__actions" }, send));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(errors);
    const to = user.value.trim().toUpperCase();
    if (!/^[A-Z0-9._-]{1,12}$/.test(to)) {
      errors.append(strip("error", "An SAP user name is 1 to 12 letters, digits, dots, dashes or underscores."));
      return user.focus();
    }
    send.disabled = true;
    const ok = await ctx.act("POST", `${path(task.id)}/forward`, { to_user: to },
      { label: `Forwarding ${task.title} to ${to}`, errorSlot: errors });
    send.disabled = false;
    if (ok) doneHere.set(task.id, `forward:${to}`);
  });
  return form;
}

// ---- decided by me -------------------------------------------------------------------------------------------

async function decidedList(ctx) {
  const { data: page } = await ctx.get("approvals/decided?limit=50");
  return {
    heading: "Decided by me",
    body: [
      h("p", { class: "app-summary" }, "Your approvals and rejections in this app that SAP took, newest first."),
      page.items.length ? navList("Tasks you decided", page.items.map((entry) => ({
        href: taskHref(entry.id),
        title: entry.title ?? entry.task_type_name ?? "A task",
        subtitle: [format.dateTime(entry.decided_at), entry.comment && ` · “${entry.comment}”`],
        side: entry.decision === "approve" ? status("Approved", "positive") : status("Rejected", "negative"),
      }))) : h("p", { class: "app-empty" }, "You have not decided anything in this app yet."),
      h("p", {}, h("a", { class: "app-exec-link", href: "#/approvals" }, "Back to open tasks")),
    ],
  };
}

/** A new task: the inbox (with any filter: its badges count it) is drawn again. */
function changes(event, view) {
  if (event.type !== "approval.created" || view !== list) return null;
  const title = event.data?.data?.title;
  return title ? `New approval in your inbox: ${title}.` : "A new approval is in your inbox.";
}

export default {
  role: "Executive", home: "approvals", label: "Approvals", changes,
  routes: [
    [/^approvals$/, list],
    [/^approvals\?show=([A-Za-z_]+)$/, list],
    [/^approvals\/decided$/, decidedList],
    [/^approvals\/([^/?]+)$/, detail],
  ],
};
