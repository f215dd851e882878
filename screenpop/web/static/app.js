// screenpop operator page: shows the caller's card when the operator's
// phone rings. No build step: an ES module served by the daemon.
import { $, t, lang, addText, applyTexts, onLanguage, api, session, signing, live, showOnline } from "./page.js";

const TEXT = {
  token: ["Ключ оператора", "Operator key"],
  badToken: ["Неверный ключ", "Wrong key"], now: ["Сейчас", "Now"], session: ["Звонки за смену", "This session's calls"], noCalls: ["Звонков нет", "No calls"],
  time: ["Время", "Time"], caller: ["Номер", "Number"], client: ["Клиент", "Client"], line: ["Линия", "Line"], result: ["Итог", "Result"],
  ringing: ["Звонит", "Ringing"], active: ["Разговор", "Talking"], taken: ["Принят · {op}", "Taken by {op}"], transferred: ["Переведён на {op}", "Transferred to {op}"], transferred_from: ["Переведён от {op}", "Transferred from {op}"], missed: ["Пропущен", "Missed"], ended: ["Завершён", "Ended"],
  pending: ["Ищем клиента…", "Looking up…"], unknown: ["Новый номер: клиента нет в базе", "New number: not in the client base"], withheld: ["Номер скрыт", "Number withheld"],
  failed: ["База клиентов недоступна", "Client base unavailable"], several: ["Этот номер у нескольких клиентов", "This number belongs to several clients"],
  potential: ["потенциальный", "potential"], real: ["клиент", "client"], regular: ["постоянный", "regular"], lost: ["потерянный", "lost"], lead: ["лид", "lead"],
  open_complaint: ["Открытая жалоба", "Open complaint"], warranty_ending: ["Заканчивается гарантия", "Warranty ending"], insurance_ending: ["Заканчивается страховка", "Insurance ending"],
  service_due: ["Пора на ТО", "Service due"], lost_client: ["Давно не был — вернуть", "Lost client — win back"], conflict: ["Конфликтный клиент", "Conflict flag"], low_satisfaction: ["Низкая оценка", "Low satisfaction"],
  lastContact: ["Последний контакт", "Last contact"], lastVisit: ["Последний визит", "Last visit"], manager: ["Менеджер", "Manager"], visits: ["Визиты за год", "Visits this year"],
  answered: ["Отвечен", "Answered"], abandoned: ["Брошен", "Abandoned"], busy: ["Занято", "Busy"], failed_status: ["Не дозвонился", "Failed"],
  service: ["ТО", "service"], repair: ["ремонт", "repair"], warranty: ["гарантия", "warranty"], body: ["кузовной", "body work"], sale: ["покупка", "purchase"],
  incoming: ["Входящий звонок", "Incoming call"],
  attention: ["Включите звук и уведомления, чтобы не пропустить звонок.", "Turn on sound and notifications so that no call goes unnoticed."], attentionOn: ["Включить звук и уведомления", "Turn on sound and notifications"],
  soundRefused: ["Браузер не включил звук: разрешите звук для этого сайта и нажмите ещё раз.", "The browser did not turn the sound on: allow sound for this site and click again."],
  notifyRefused: ["Браузер запретил уведомления: разрешите их в настройках сайта (значок слева от адреса).", "The browser blocked notifications: allow them in the site settings (the icon left of the address)."],
  notifyMissing: ["Этот браузер не показывает уведомления: держите вкладку на виду.", "This browser shows no notifications: keep this tab in view."],
  attentionDone: ["Звук и уведомления включены.", "Sound and notifications are on."],
  shiftFailed: ["Звонки смены не загрузились: {reason}", "This shift's calls did not load: {reason}"],
  notYourClient: ["Этого клиента нет среди ваших звонков", "This client is not on your calls"],
};

addText(TEXT);

// callKey names a call on this page: its call_id, and with several
// Asterisk boxes its box too (pbx/call_id), as two boxes' calls may share
// an ID. A page of one box sees no pbx: the key is the call_id.
export const callKey = (call) => (call.pbx ? call.pbx + "/" + call.call_id : call.call_id);

export const state = {
  operator: null, seq: 0, epoch: "",
  calls: new Map(),   // callKey -> call as last received
  history: new Map(), // callKey -> call, this session
  // Names the page shows instead of numbers: colleagues by extension,
  // the sources lines advertise by dialled number (as the calls carry it).
  names: { operators: {}, lines: {} }, asked: new Set(),
};
// A page that hears nothing from the daemon for this long (it sends a
// heartbeat every 3 s) shows it is offline and reconnects: a hung daemon
// keeps the socket open.
const SILENCE_MS = 8000;

// The page's feature scripts (notes.js, dial.js, history.js) build on
// these: they render into each call card and history row, hear every
// message, and redraw with the page.
export const onCall = [];    // fn(articleElement, call) after a call card is drawn
export const onHistory = []; // fn(tableRow, call) after a session row is drawn
export const onMessage = []; // fn(message) for every message from the server
export const onRender = [];  // fn() after the page is drawn (language change, etc.)
export function render() { renderCalls(); renderHistory(); }

// opName is a colleague's name for an extension; lineName the source a
// dialled number advertises, or the number itself.
export function opName(ext) {
  if (!namesLoaded) askLines([], true);
  return (ext && state.names.operators[ext]) || ext || "";
}
export function lineName(did) {
  askLines([did]);
  return (did && state.names.lines[did]) || did || "";
}
// lineCell fills node with a line's name, its number on hover.
export function lineCell(node, did) {
  node.textContent = lineName(did);
  if (did && lineName(did) !== did) node.title = did;
  return node;
}

function applyLanguage() {
  applyTexts();
  showOnline(socket.online);
  if (state.attention) showAttention(state.attention);
  renderCalls();
  renderHistory();
  for (const fn of onRender) fn();
}

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
}
function fmtDate(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleDateString(lang);
}

// ---- rendering ----

function renderClient(c) {
  const el = $("#client-tpl").content.firstElementChild.cloneNode(true);
  el.dataset.clientId = c.client_id;
  el.querySelector(".greeting").textContent = c.greeting || c.full_name;
  el.querySelector(".fullname").textContent = c.full_name;
  const seg = el.querySelector(".segment");
  seg.textContent = t(c.segment);
  seg.className = "segment seg-" + c.segment;
  if (c.lead) { const l = el.querySelector(".lead"); l.hidden = false; l.textContent = t("lead"); }
  const alerts = el.querySelector(".alerts");
  for (const a of c.alerts || []) {
    const li = document.createElement("li");
    li.className = "alert alert-" + a.kind;
    li.dataset.kind = a.kind;
    let text = t(a.kind);
    if (a.car) text += " · " + a.car;
    if (a.date) text += " · " + fmtDate(a.date);
    li.textContent = text;
    alerts.append(li);
  }
  const facts = el.querySelector(".facts");
  const fact = (key, value) => {
    if (!value) return;
    const dt = document.createElement("dt"); dt.textContent = t(key);
    const dd = document.createElement("dd"); dd.textContent = value;
    facts.append(dt, dd);
  };
  if (c.last_contact) {
    fact("lastContact", [fmtDate(c.last_contact.at), c.last_contact.employee, c.last_contact.summary].filter(Boolean).join(" · "));
  }
  if (c.last_visit) {
    fact("lastVisit", [fmtDate(c.last_visit.date), t(c.last_visit.kind), c.last_visit.employee].filter(Boolean).join(" · "));
  }
  fact("visits", String(c.visits_last_year || 0));
  if (c.manager) fact("manager", c.manager.name + (c.manager.extension ? " (" + c.manager.extension + ")" : ""));
  const cars = el.querySelector(".cars");
  for (const car of c.cars || []) {
    const li = document.createElement("li");
    li.className = "car";
    li.textContent = [car.make + " " + car.model, car.year || "", car.plate, car.vin].filter(Boolean).join(" · ");
    cars.append(li);
  }
  return el;
}

function stateText(call) {
  if (call.state === "taken") return t("taken", { op: opName(call.answered_by) });
  if (call.state === "transferred") return t("transferred", { op: opName(call.transferred_to) });
  if (call.state === "active" && call.transferred_from) return t("active") + " · " + t("transferred_from", { op: opName(call.transferred_from) });
  return t(call.state);
}

// withheld reports whether the caller hid their number: the carrier's
// word for it ("anonymous") is no number to show.
function withheld(call) {
  return Boolean(call.withheld || (call.card && call.card.lookup === "withheld") || !call.caller);
}
const callerText = (call) => (withheld(call) ? t("withheld") : call.caller);

function renderCall(call) {
  const el = $("#call-tpl").content.firstElementChild.cloneNode(true);
  el.dataset.callId = callKey(call);
  el.dataset.state = call.state;
  el.classList.add("state-" + call.state);
  el.querySelector(".state").textContent = stateText(call);
  el.querySelector(".number").textContent = callerText(call);
  if (call.did) lineCell(el.querySelector(".did"), call.did);
  const card = call.card || { lookup: "pending", clients: [] };
  const lookup = el.querySelector(".lookup");
  lookup.dataset.lookup = card.lookup;
  if (card.lookup !== "found") lookup.textContent = t(card.lookup);
  else if (card.clients.length > 1) lookup.textContent = t("several");
  const clients = el.querySelector(".clients");
  for (const c of card.clients || []) clients.append(renderClient(c));
  for (const fn of onCall) fn(el, call);
  return el;
}

function renderCalls() {
  const box = $("#calls");
  box.replaceChildren();
  const shown = [...state.calls.values()].sort(byUrgency);
  if (shown.length === 0) {
    const p = document.createElement("p"); p.className = "empty"; p.textContent = t("noCalls");
    box.append(p);
    return;
  }
  // A ringing call is on top, whatever came before it; the calls under
  // way stay below, compact, while one rings.
  const ringing = shown.some((c) => c.state === "ringing");
  for (const call of shown) {
    const el = renderCall(call);
    if (ringing && call.state !== "ringing") el.classList.add("compact");
    box.append(el);
  }
}

const URGENCY = { ringing: 0, active: 1, taken: 2, missed: 2, ended: 3 };
function byUrgency(a, b) {
  const u = (URGENCY[a.state] ?? 3) - (URGENCY[b.state] ?? 3);
  if (u) return u;
  // The newest ringing call first: it is the one just popped.
  return a.state === "ringing" ? Date.parse(b.started_at) - Date.parse(a.started_at) : Date.parse(a.started_at) - Date.parse(b.started_at);
}

function clientName(call) {
  const c = call.card && call.card.clients && call.card.clients[0];
  return c ? c.full_name : call.client || ""; // a row from the server after a reload has no card
}

function resultText(call) {
  const me = state.operator && state.operator.extension;
  if (call.transferred_to) return t("transferred", { op: opName(call.transferred_to) });
  if (call.state === "taken" || (call.answered_by && me && call.answered_by !== me)) return t("taken", { op: opName(call.answered_by) });
  if (call.status === "failed") return t("failed_status");
  return call.status ? t(call.status) : t(call.state);
}

function renderHistory() {
  const body = $("#history tbody");
  body.replaceChildren();
  // In time order, newest first, however the calls reached the page (live,
  // caught up after a reconnect, or from the server after a reload).
  const rows = [...state.history.values()].sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at));
  for (const call of rows) {
    const tr = document.createElement("tr");
    tr.dataset.callId = callKey(call);
    const cells = [fmtTime(call.started_at), callerText(call), clientName(call), null, resultText(call)];
    for (const v of cells) {
      const td = document.createElement("td");
      if (v === null) lineCell(td, call.did); else td.textContent = v || "";
      tr.append(td);
    }
    for (const fn of onHistory) fn(tr, call);
    body.append(tr);
  }
}

// ---- attention ----

let audio;
// enableAttention is the one click the browser needs before it plays a
// sound or shows a notification; it says what the browser refused.
async function enableAttention() {
  const problems = [];
  try {
    audio = audio || new AudioContext();
    await audio.resume();
    if (audio.state !== "running") problems.push("soundRefused");
  } catch (e) {
    problems.push("soundRefused");
  }
  if (!("Notification" in window)) problems.push("notifyMissing");
  else {
    let perm = Notification.permission;
    if (perm === "default") {
      try { perm = await Notification.requestPermission(); } catch (e) { perm = Notification.permission; }
    }
    if (perm !== "granted") problems.push("notifyRefused");
  }
  showAttention(problems);
}

// showAttention shows what the browser refused (text keys), or hides the
// request once all is on.
function showAttention(problems) {
  const hint = $("#notify-hint");
  state.attention = problems;
  hint.classList.toggle("refused", problems.length > 0);
  $("#attention-status").textContent = problems.map((k) => t(k)).join(" ");
  hint.hidden = problems.length === 0;
}

function ring() {
  try {
    audio = audio || new AudioContext();
    const now = audio.currentTime;
    for (const [i, f] of [[0, 880], [0.25, 660]]) {
      const o = audio.createOscillator(), g = audio.createGain();
      o.frequency.value = f; g.gain.setValueAtTime(0.15, now + i); g.gain.exponentialRampToValueAtTime(0.001, now + i + 0.22);
      o.connect(g).connect(audio.destination); o.start(now + i); o.stop(now + i + 0.23);
    }
  } catch (e) { /* no audio: the notification still shows */ }
}

function notify(call) {
  if (!document.hidden) return;
  ring();
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const c = call.card && call.card.clients && call.card.clients[0];
  const n = new Notification(c ? c.greeting || c.full_name : t("incoming"), {
    body: [callerText(call), c ? c.full_name : t(call.card ? call.card.lookup : "pending")].filter(Boolean).join(" · "),
    tag: "screenpop-" + callKey(call),
  });
  n.onclick = () => { window.focus(); n.close(); };
}

// ---- messages ----

function handle(msg) {
  if (msg.type === "heartbeat") return;
  for (const fn of onMessage) fn(msg);
  if (msg.type === "welcome") {
    // Another epoch is another daemon: its seq counts from 1 again, and
    // the snapshot that follows (reset) replaces what the page had.
    if (msg.epoch !== state.epoch) {
      state.epoch = msg.epoch || "";
      state.seq = 0;
      sessionStorage.setItem("screenpop.epoch", state.epoch);
      sessionStorage.setItem("screenpop.seq", "0");
    }
    state.operator = msg.operator;
    $("#who").textContent = msg.operator.name + " · " + msg.operator.extension;
    loadShift();
    askLines([], true);
    return;
  }
  if (msg.seq) state.seq = Math.max(state.seq, msg.seq);
  sessionStorage.setItem("screenpop.seq", String(state.seq));
  if (msg.type === "snapshot") {
    if (msg.reset || state.calls.size) state.calls.clear();
    for (const call of msg.calls || []) { state.calls.set(callKey(call), call); state.history.set(callKey(call), call); }
    renderCalls(); renderHistory();
    return;
  }
  const call = msg.call;
  if (!call) return;
  const key = callKey(call);
  state.history.set(key, call);
  switch (msg.type) {
    case "call.offered":
      state.calls.set(key, call);
      notify(call);
      break;
    case "call.card":
      if (state.calls.has(key)) state.calls.set(key, call);
      break;
    case "call.answered":
      state.calls.set(key, call);
      if (call.state === "taken") withdrawLater(key);
      break;
    case "call.missed":
      state.calls.set(key, call);
      withdrawLater(key);
      break;
    case "call.ended":
      state.calls.delete(key);
      break;
  }
  renderCalls(); renderHistory();
}

// The pop of a call someone else took stays a moment, so the operator sees
// why it went.
function withdrawLater(id) {
  setTimeout(() => {
    const c = state.calls.get(id);
    if (c && (c.state === "taken" || c.state === "missed")) { state.calls.delete(id); renderCalls(); }
  }, 3000);
}

// ---- what a reload must not lose ----

// loadShift puts the operator's calls of this shift, from the call log,
// in the session list; what the page heard live about a call stays.
async function loadShift() {
  try {
    const d = await api("GET", "/api/shift");
    for (const c of d.calls || []) {
      const live = state.history.get(callKey(c));
      if (live && live.state !== "ended" && live.state !== "missed" && live.state !== "taken") continue;
      state.history.set(callKey(c), Object.assign({}, live || {}, c, { card: live ? live.card : c.card }));
    }
    $("#shift-error").hidden = true;
  } catch (e) {
    $("#shift-error").hidden = false;
    $("#shift-error").textContent = t("shiftFailed", { reason: e.message });
    $("#shift-error").title = e.detail || "";
  }
  askLines([...state.history.values()].map((c) => c.did));
  renderHistory();
}

// askLines asks the daemon once for the names of lines not named yet
// (and of the colleagues, with the first ask or when force is set).
let asking = null, namesLoaded = false;
function askLines(dids, force) {
  const fresh = dids.filter((d) => d && !state.asked.has(d));
  if (!fresh.length && !force) return;
  for (const d of fresh) state.asked.add(d);
  if (!session.token) return;
  const batch = asking || { dids: [] };
  batch.dids.push(...fresh);
  if (asking) return;
  asking = batch;
  setTimeout(async () => {
    asking = null;
    const q = batch.dids.slice(0, 100).map((d) => "did=" + encodeURIComponent(d)).join("&");
    try {
      const d = await api("GET", "/api/directory" + (q ? "?" + q : ""));
      state.names.operators = d.operators || {};
      Object.assign(state.names.lines, d.lines || {});
      namesLoaded = true;
    } catch (e) {
      // Asked again at the next draw, a moment from now.
      for (const did of batch.dids) state.asked.delete(did);
      setTimeout(() => render(), 2000);
      return;
    }
    render();
  }, 50);
}

// ---- connection ----

let signOut; // set once the page has its sign-in form
const socket = live({
  path: "/ws",
  hello: () => ({ type: "hello", token: session.token, since: state.seq, epoch: state.epoch }),
  onMessage: handle,
  online: showOnline,
  silenceMs: SILENCE_MS,
  refused: () => signOut(t("badToken")), // the store says the key is no one's
});

document.addEventListener("DOMContentLoaded", () => {
  state.seq = Number(sessionStorage.getItem("screenpop.seq") || 0);
  state.epoch = sessionStorage.getItem("screenpop.epoch") || "";
  applyLanguage();
  onLanguage(applyLanguage);
  $("#notify").onclick = () => enableAttention();
  ({ signOut } = signing({
    key: "screenpop.token",
    main: $("#desk"),
    signedIn: () => {
      // Sound needs a click on every page load; notifications once.
      $("#notify-hint").hidden = false;
      socket.connect();
    },
    signedOut: () => socket.close(),
  }));
});
