// Click-to-dial and the callback list: see screenpop/web/dial.go.
//
// "Call back" on a pop, a session row or a callback list item asks the
// server to ring the operator's own phone; when they pick up, Asterisk
// dials the client. The callback list is shared by all operators: who has
// taken an item shows, so that two do not call the same client.
import { $, el, t, addText, hasText, api, session } from "./page.js";
import { state, onCall, onHistory, onMessage, onRender, lineCell } from "./app.js";

const REFRESH_MS = 5000;

addText({
  callBack: ["Перезвонить", "Call back"], callbacks: ["Перезвонить клиентам", "Callback list"], noCallbacks: ["Все перезвонили", "Everyone has been called back"],
  cbNumber: ["Номер", "Number"], cbClient: ["Клиент", "Client"], cbAttempts: ["Звонков", "Calls"], cbLine: ["Линия", "Line"], cbLast: ["Последний", "Last"],
  cbClaim: ["Взял", "Taken by"], cbYou: ["вы", "you"], closeItem: ["Закрыть", "Close"], closeReason: ["Почему перезванивать не нужно?", "Why is no callback needed?"],
  closeOk: ["Закрыть", "Close"], closeCancel: ["Отмена", "Cancel"], andOthers: ["и ещё {n}", "and {n} more"],
  dialing: ["Звоним на ваш телефон: снимите трубку, чтобы позвонить {number}", "Ringing your phone: pick up to call {number}"],
  dialFailed: ["Не получилось позвонить {number}: {reason}", "Could not call {number}: {reason}"],
  cbFailed: ["Список «перезвонить» не обновился: {reason}", "The callback list did not refresh: {reason}"], cbActionFailed: ["Список «перезвонить»: {reason}", "Callback list: {reason}"],
  dial_busy: ["ваш телефон занят", "your phone is busy"], dial_no_answer: ["вы не сняли трубку", "you did not pick up"],
  dial_offline: ["ваш телефон не в сети (не зарегистрирован)", "your phone is offline (not registered)"], dial_rejected: ["ваш телефон отклонил вызов", "your phone rejected the call"],
  dial_unreachable: ["ваш телефон недоступен", "your phone cannot be reached"], dial_other: ["АТС не смогла позвонить на ваш телефон", "the PBX could not ring your phone"], dismiss: ["Скрыть", "Dismiss"],
  badNumber: ["этот номер нельзя набрать", "this number cannot be dialled"], pbxRefused: ["АТС не приняла вызов", "the PBX did not take the call"],
  needReason: ["напишите, почему перезванивать не нужно (до 500 знаков)", "say why no callback is needed (up to 500 characters)"], noCallback: ["клиент уже не ждёт звонка", "the client no longer waits for a callback"],
  claimed: ["клиенту уже перезванивает {who}", "{who} is already calling the client back"],
});

// The callback list: the last reading, and the item being closed (its
// form survives refreshes).
const cb = { items: [], loaded: false, closing: null, timer: null };
// Dials this page placed, by channel: their failures are this page's news.
const placed = new Map();

// ---- the page's parts ----

const status = el("div", "dial-status");
status.id = "dial-status";
status.hidden = true;
status.setAttribute("role", "status");
const statusText = el("span", "dial-status-text");
const statusClose = el("button", "dial-status-close", "×");
statusClose.type = "button";
statusClose.onclick = () => { status.hidden = true; };
status.append(statusText, statusClose);

const heading = el("h2");
heading.dataset.i18n = "callbacks";
heading.textContent = t("callbacks");
const section = el("section", "callbacks");
section.id = "callbacks";
const table = el("table");
const head = el("thead");
const headRow = el("tr");
for (const key of ["cbNumber", "cbClient", "cbAttempts", "cbLine", "cbLast", "cbClaim", ""]) {
  const th = el("th", "", key ? t(key) : "");
  if (key) th.dataset.i18n = key;
  headRow.append(th);
}
head.append(headRow);
const body = el("tbody");
table.append(head, body);
const empty = el("p", "empty", t("noCallbacks"));
empty.dataset.i18n = "noCallbacks";
section.append(table, empty);

const calls = $("#calls");
if (calls) {
  calls.before(status);
  calls.after(heading, section);
}
// The session rows get a cell for their "Call back" button.
const historyHead = $("#history thead tr");
if (historyHead) historyHead.append(el("th", "dial-cell"));

let statusTimer = null;
// say shows text; detail, the daemon's or Asterisk's own words, on hover.
function say(text, kind, detail) {
  clearTimeout(statusTimer);
  statusText.textContent = text;
  statusText.title = detail || "";
  status.className = "dial-status " + kind;
  status.hidden = false;
  statusClose.title = t("dismiss");
  if (kind === "info") statusTimer = setTimeout(() => { status.hidden = true; }, 10000);
}

// ---- click-to-dial ----

// numberOf is the client's number of a call, if it has one to dial.
function numberOf(call) {
  const e164 = call.card && call.card.caller_e164;
  if (e164) return e164;
  const raw = (call.caller || "").trim();
  return (raw.match(/\d/g) || []).length >= 7 && /^[+\d\s()\-.]+$/.test(raw) ? raw : "";
}

async function dial(number) {
  try {
    const d = await api("POST", "/api/dial", { number }, { 400: "badNumber", 502: "pbxRefused" });
    placed.set(d.channel_id, d.number);
    setTimeout(() => placed.delete(d.channel_id), 5 * 60 * 1000);
    say(t("dialing", { number: d.number }), "info");
    return true;
  } catch (e) {
    say(t("dialFailed", { number, reason: e.message }), "error", e.detail);
    return false;
  }
}

// dialButton is a "Call back" button for number; history.js puts it
// wherever a number is.
export function dialButton(number) {
  const b = el("button", "dial-btn", t("callBack"));
  b.type = "button";
  b.dataset.number = number;
  b.onclick = (ev) => { ev.stopPropagation(); dial(number); };
  return b;
}


onCall.push((article, call) => {
  const number = numberOf(call);
  if (!number) return;
  (article.querySelector(".call-head") || article).append(dialButton(number));
});

onHistory.push((tr, call) => {
  const td = el("td", "dial-cell");
  const number = numberOf(call);
  if (number) td.append(dialButton(number));
  tr.append(td);
});

onMessage.push((msg) => {
  if (msg.type === "welcome") {
    refresh();
  } else if (msg.type === "dial.failed" && msg.dial) {
    // Old failures come again to a page that reconnects from the start.
    const recent = Date.now() - new Date(msg.at).getTime() < 2 * 60 * 1000;
    if (!placed.has(msg.dial.channel_id) && !recent) return;
    placed.delete(msg.dial.channel_id);
    // A reason the page has no text for is Asterisk's, shown as a detail.
    const code = hasText("dial_" + msg.dial.code) ? "dial_" + msg.dial.code : "dial_other";
    say(t("dialFailed", { number: msg.dial.number, reason: t(code) }), "error", msg.dial.reason);
  } else if (msg.type === "call.ended") {
    // The call log has it a moment later.
    setTimeout(refresh, 1500);
  }
});

// ---- the callback list ----

function fmtTime(iso) {
  const d = new Date(iso);
  const lang = document.documentElement.lang || "ru";
  const today = new Date().toDateString() === d.toDateString();
  return today
    ? d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleString(lang, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
}

function me() { return state.operator && state.operator.extension; }

// claimedText is the refusal of a claim another operator holds.
function claimedText(data) {
  return t("claimed", { who: data.claim ? claimText(data.claim) : "" });
}

function claimText(claim) {
  if (!claim) return "";
  if (claim.operator === me()) return t("cbYou");
  return claim.name ? claim.name + " (" + claim.operator + ")" : claim.operator;
}

function render() {
  body.replaceChildren();
  empty.hidden = !cb.loaded || cb.items.length > 0;
  table.hidden = cb.items.length === 0;
  for (const item of cb.items) {
    const tr = el("tr");
    tr.dataset.number = item.number;
    const client = item.client
      ? item.client.full_name + (item.client.others ? " " + t("andOthers", { n: item.client.others }) : "")
      : "";
    const cells = [item.number, client, String(item.attempts), item.did, fmtTime(item.last_missed_at), claimText(item.claim)];
    const classes = ["cb-number", "cb-client", "cb-attempts", "cb-line", "cb-last", "cb-claim"];
    cells.forEach((v, i) => tr.append(classes[i] === "cb-line" ? lineCell(el("td", "cb-line"), v) : el("td", classes[i], v)));
    if (item.claim) tr.classList.add(item.claim.operator === me() ? "claimed-mine" : "claimed");
    const actions = el("td", "cb-actions");
    const call = el("button", "callback-call", t("callBack"));
    call.type = "button";
    call.disabled = Boolean(item.claim && item.claim.operator !== me());
    call.onclick = () => callBack(item.number, call);
    const close = el("button", "callback-close", t("closeItem"));
    close.type = "button";
    close.onclick = () => { cb.closing = { number: item.number, reason: "" }; render(); focusReason(); };
    actions.append(call, close);
    tr.append(actions);
    body.append(tr);
    if (cb.closing && cb.closing.number === item.number) body.append(closeForm(item.number));
  }
}

function closeForm(number) {
  const tr = el("tr", "callback-close-row");
  const td = el("td");
  td.colSpan = 7;
  const form = el("form", "callback-close-form");
  const input = el("input", "callback-reason");
  input.type = "text";
  input.required = true;
  input.maxLength = 500;
  input.placeholder = t("closeReason");
  input.value = cb.closing.reason;
  input.oninput = () => { cb.closing.reason = input.value; };
  const ok = el("button", "callback-close-ok", t("closeOk"));
  ok.type = "submit";
  const cancel = el("button", "callback-close-cancel", t("closeCancel"));
  cancel.type = "button";
  cancel.onclick = () => { cb.closing = null; render(); };
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    ok.disabled = true;
    try {
      await api("POST", "/api/callbacks/" + encodeURIComponent(number) + "/close", { reason: input.value }, { 400: "needReason", 404: "noCallback" });
      cb.closing = null;
    } catch (e) {
      say(t("cbActionFailed", { reason: e.message }), "error", e.detail);
    }
    ok.disabled = false;
    refresh();
  };
  form.append(input, ok, cancel);
  td.append(form);
  tr.append(td);
  return tr;
}

function focusReason() {
  const input = body.querySelector(".callback-reason");
  if (input) input.focus();
}

// callBack takes the item, so no one else calls the client, then dials.
async function callBack(number, button) {
  button.disabled = true;
  try {
    await api("POST", "/api/callbacks/" + encodeURIComponent(number) + "/claim", undefined, { 404: "noCallback", 409: claimedText });
  } catch (e) {
    say(t("dialFailed", { number, reason: e.message }), "error", e.detail);
    refresh();
    return;
  }
  await dial(number);
  refresh();
}

async function refresh() {
  clearTimeout(cb.timer);
  cb.timer = setTimeout(refresh, REFRESH_MS);
  if (!session.token || $("#desk").hidden) return;
  try {
    const data = await api("GET", "/api/callbacks");
    cb.items = data.callbacks || [];
    cb.loaded = true;
  } catch (e) {
    say(t("cbFailed", { reason: e.message }), "error", e.detail);
    return;
  }
  // Typing a reason: redraw once it is sent or given up.
  if (cb.closing && document.activeElement && document.activeElement.classList.contains("callback-reason")) return;
  if (cb.closing && !cb.items.some((i) => i.number === cb.closing.number)) cb.closing = null;
  render();
}

onRender.push(() => {
  for (const th of headRow.children) if (th.dataset.i18n) th.textContent = t(th.dataset.i18n);
  render();
});

render();
refresh();
