// screenpop operator page: shows the caller's card when the operator's
// phone rings. No build step: plain JavaScript served by the daemon.
"use strict";

const MESSAGE_VERSION = 1;

const TEXT = {
  ru: {
    signin: "Войти", token: "Ключ оператора", logout: "Выйти", offline: "нет связи", online: "на связи",
    badToken: "Неверный ключ", now: "Сейчас", session: "Звонки за смену", noCalls: "Звонков нет",
    time: "Время", caller: "Номер", client: "Клиент", line: "Линия", result: "Итог",
    ringing: "Звонит", active: "Разговор", taken: "Принят · {op}", transferred: "Переведён на {op}", transferred_from: "Переведён от {op}", missed: "Пропущен", ended: "Завершён",
    pending: "Ищем клиента…", unknown: "Новый номер: клиента нет в базе", withheld: "Номер скрыт",
    failed: "База клиентов недоступна", several: "Этот номер у нескольких клиентов",
    potential: "потенциальный", real: "клиент", regular: "постоянный", lost: "потерянный", lead: "лид",
    open_complaint: "Открытая жалоба", warranty_ending: "Заканчивается гарантия", insurance_ending: "Заканчивается страховка",
    service_due: "Пора на ТО", lost_client: "Давно не был — вернуть", conflict: "Конфликтный клиент", low_satisfaction: "Низкая оценка",
    lastContact: "Последний контакт", lastVisit: "Последний визит", manager: "Менеджер", visits: "Визиты за год",
    answered: "Отвечен", abandoned: "Брошен", busy: "Занято", failed_status: "Не дозвонился",
    service: "ТО", repair: "ремонт", warranty: "гарантия", body: "кузовной", sale: "покупка",
    incoming: "Входящий звонок",
    attention: "Включите звук и уведомления, чтобы не пропустить звонок.", attentionOn: "Включить звук и уведомления",
    soundRefused: "Браузер не включил звук: разрешите звук для этого сайта и нажмите ещё раз.",
    notifyRefused: "Браузер запретил уведомления: разрешите их в настройках сайта (значок слева от адреса).",
    notifyMissing: "Этот браузер не показывает уведомления: держите вкладку на виду.",
    attentionDone: "Звук и уведомления включены.",
    networkError: "нет связи с сервером", serverError: "сервер не смог ответить ({status}), попробуйте ещё раз",
    shiftFailed: "Звонки смены не загрузились: {reason}",
  },
  en: {
    signin: "Sign in", token: "Operator key", logout: "Sign out", offline: "offline", online: "online",
    badToken: "Wrong key", now: "Now", session: "This session's calls", noCalls: "No calls",
    time: "Time", caller: "Number", client: "Client", line: "Line", result: "Result",
    ringing: "Ringing", active: "Talking", taken: "Taken by {op}", transferred: "Transferred to {op}", transferred_from: "Transferred from {op}", missed: "Missed", ended: "Ended",
    pending: "Looking up…", unknown: "New number: not in the client base", withheld: "Number withheld",
    failed: "Client base unavailable", several: "This number belongs to several clients",
    potential: "potential", real: "client", regular: "regular", lost: "lost", lead: "lead",
    open_complaint: "Open complaint", warranty_ending: "Warranty ending", insurance_ending: "Insurance ending",
    service_due: "Service due", lost_client: "Lost client — win back", conflict: "Conflict flag", low_satisfaction: "Low satisfaction",
    lastContact: "Last contact", lastVisit: "Last visit", manager: "Manager", visits: "Visits this year",
    answered: "Answered", abandoned: "Abandoned", busy: "Busy", failed_status: "Failed",
    service: "service", repair: "repair", warranty: "warranty", body: "body work", sale: "purchase",
    incoming: "Incoming call",
    attention: "Turn on sound and notifications so that no call goes unnoticed.", attentionOn: "Turn on sound and notifications",
    soundRefused: "The browser did not turn the sound on: allow sound for this site and click again.",
    notifyRefused: "The browser blocked notifications: allow them in the site settings (the icon left of the address).",
    notifyMissing: "This browser shows no notifications: keep this tab in view.",
    attentionDone: "Sound and notifications are on.",
    networkError: "no connection to the server", serverError: "the server could not answer ({status}); try again",
    shiftFailed: "This shift's calls did not load: {reason}",
  },
};

let lang = localStorage.getItem("screenpop.lang") || (navigator.language || "ru").slice(0, 2);
if (!TEXT[lang]) lang = "ru";
const t = (key, vars) => {
  let s = (TEXT[lang] && TEXT[lang][key]) || TEXT.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", v);
  return s;
};

const $ = (sel) => document.querySelector(sel);
const state = {
  token: null, operator: null, seq: 0, epoch: "", ws: null, retry: 0,
  calls: new Map(),   // call_id -> call as last received
  history: new Map(), // call_id -> call, this session
  // Names the page shows instead of numbers: colleagues by extension,
  // the sources lines advertise by dialled number (as the calls carry it).
  names: { operators: {}, lines: {} }, asked: new Set(),
  watchdog: null,
};
// A page that hears nothing from the daemon for this long (it sends a
// heartbeat every 3 s) shows it is offline and reconnects: a hung daemon
// keeps the socket open.
const SILENCE_MS = 8000;

// SP is what the page's feature scripts (notes.js, dial.js) build on:
// they add texts, render into each call card and history row, hear every
// message, and call the operators' API with the operator's key.
const SP = window.SP = {
  t, state, TEXT,
  onCall: [],     // fn(articleElement, call) after a call card is drawn
  onHistory: [],  // fn(tableRow, call) after a session row is drawn
  onMessage: [],  // fn(message) for every message from the server
  onRender: [],   // fn() after the page is drawn (language change, etc.)
  addText(dicts) { for (const [l, d] of Object.entries(dicts)) Object.assign(TEXT[l], d); },
  render() { renderCalls(); renderHistory(); },
  // opName is a colleague's name for an extension; lineName the source a
  // dialled number advertises, or the number itself.
  opName: (ext) => { if (!namesLoaded) askLines([], true); return (ext && state.names.operators[ext]) || ext || ""; },
  lineName: (did) => { askLines([did]); return (did && state.names.lines[did]) || did || ""; },
  // lineCell fills el with a line's name, its number on hover.
  lineCell(el, did) {
    el.textContent = SP.lineName(did);
    if (did && SP.lineName(did) !== did) el.title = did;
    return el;
  },
  async api(method, path, body) {
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers: { "Authorization": "Bearer " + state.token, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new Error(t("networkError")); // the browser's own words are in its language, not the page's
    }
    let data = null;
    try { data = await resp.json(); } catch (e) { /* empty body */ }
    if (resp.status === 401) throw new Error(t("badToken"));
    if (resp.status >= 500) throw new Error(t("serverError", { status: resp.status }));
    if (!resp.ok) throw new Error((data && data.error) || String(resp.status));
    return data;
  },
};

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("#lang").textContent = lang === "ru" ? "EN" : "RU";
  $("#conn").textContent = t(state.ws && state.ws.readyState === 1 ? "online" : "offline");
  if (state.attention) showAttention(state.attention);
  renderCalls();
  renderHistory();
  for (const fn of SP.onRender) fn();
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
  if (call.state === "taken") return t("taken", { op: SP.opName(call.answered_by) });
  if (call.state === "transferred") return t("transferred", { op: SP.opName(call.transferred_to) });
  if (call.state === "active" && call.transferred_from) return t("active") + " · " + t("transferred_from", { op: SP.opName(call.transferred_from) });
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
  el.dataset.callId = call.call_id;
  el.dataset.state = call.state;
  el.classList.add("state-" + call.state);
  el.querySelector(".state").textContent = stateText(call);
  el.querySelector(".number").textContent = callerText(call);
  if (call.did) SP.lineCell(el.querySelector(".did"), call.did);
  const card = call.card || { lookup: "pending", clients: [] };
  const lookup = el.querySelector(".lookup");
  lookup.dataset.lookup = card.lookup;
  if (card.lookup !== "found") lookup.textContent = t(card.lookup);
  else if (card.clients.length > 1) lookup.textContent = t("several");
  const clients = el.querySelector(".clients");
  for (const c of card.clients || []) clients.append(renderClient(c));
  for (const fn of SP.onCall) fn(el, call);
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
  if (call.transferred_to) return t("transferred", { op: SP.opName(call.transferred_to) });
  if (call.state === "taken" || (call.answered_by && me && call.answered_by !== me)) return t("taken", { op: SP.opName(call.answered_by) });
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
    tr.dataset.callId = call.call_id;
    const cells = [fmtTime(call.started_at), callerText(call), clientName(call), null, resultText(call)];
    for (const v of cells) {
      const td = document.createElement("td");
      if (v === null) SP.lineCell(td, call.did); else td.textContent = v || "";
      tr.append(td);
    }
    for (const fn of SP.onHistory) fn(tr, call);
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
    body: [call.caller, c ? c.full_name : t(call.card ? call.card.lookup : "pending")].filter(Boolean).join(" · "),
    tag: "screenpop-" + call.call_id,
  });
  n.onclick = () => { window.focus(); n.close(); };
}

// ---- messages ----

function handle(msg) {
  if (msg.v !== MESSAGE_VERSION) { location.reload(); return; }
  if (msg.type === "heartbeat") return;
  for (const fn of SP.onMessage) fn(msg);
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
    for (const call of msg.calls || []) { state.calls.set(call.call_id, call); state.history.set(call.call_id, call); }
    renderCalls(); renderHistory();
    return;
  }
  const call = msg.call;
  if (!call) return;
  state.history.set(call.call_id, call);
  switch (msg.type) {
    case "call.offered":
      state.calls.set(call.call_id, call);
      notify(call);
      break;
    case "call.card":
      if (state.calls.has(call.call_id)) state.calls.set(call.call_id, call);
      break;
    case "call.answered":
      state.calls.set(call.call_id, call);
      if (call.state === "taken") withdrawLater(call.call_id);
      break;
    case "call.missed":
      state.calls.set(call.call_id, call);
      withdrawLater(call.call_id);
      break;
    case "call.ended":
      state.calls.delete(call.call_id);
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
    const d = await SP.api("GET", "/api/shift");
    for (const c of d.calls || []) {
      const live = state.history.get(c.call_id);
      if (live && live.state !== "ended" && live.state !== "missed" && live.state !== "taken") continue;
      state.history.set(c.call_id, Object.assign({}, live || {}, c, { card: live ? live.card : c.card }));
    }
    $("#shift-error").hidden = true;
  } catch (e) {
    $("#shift-error").hidden = false;
    $("#shift-error").textContent = t("shiftFailed", { reason: e.message });
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
  if (!state.token) return;
  const batch = asking || { dids: [] };
  batch.dids.push(...fresh);
  if (asking) return;
  asking = batch;
  setTimeout(async () => {
    asking = null;
    const q = batch.dids.slice(0, 100).map((d) => "did=" + encodeURIComponent(d)).join("&");
    try {
      const d = await SP.api("GET", "/api/directory" + (q ? "?" + q : ""));
      state.names.operators = d.operators || {};
      Object.assign(state.names.lines, d.lines || {});
      namesLoaded = true;
    } catch (e) {
      // Asked again at the next draw, a moment from now.
      for (const did of batch.dids) state.asked.delete(did);
      setTimeout(() => SP.render(), 2000);
      return;
    }
    SP.render();
  }, 50);
}

// ---- connection ----

function setOnline(on) {
  const el = $("#conn");
  el.className = "conn " + (on ? "on" : "off");
  el.textContent = t(on ? "online" : "offline");
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(proto + "//" + location.host + "/ws");
  state.ws = ws;
  arm(ws);
  ws.onopen = () => {
    ws.send(JSON.stringify({ type: "hello", token: state.token, since: state.seq, epoch: state.epoch }));
  };
  ws.onmessage = (ev) => {
    state.retry = 0;
    arm(ws);
    setOnline(true);
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    handle(msg);
  };
  ws.onclose = (ev) => {
    clearTimeout(state.watchdog);
    setOnline(false);
    if (ev.code === 1008) { // policy violation: the store says the key is no one's
      signOut(t("badToken"));
      return;
    }
    // Anything else, 1013 included (the key could not be checked: the
    // store is down or slow), keeps the key and tries again.
    const wait = Math.min(10000, 500 * 2 ** state.retry++) * (0.5 + Math.random() / 2);
    setTimeout(() => { if (state.token) connect(); }, wait);
  };
}

// arm restarts the watchdog: if the daemon stays silent past SILENCE_MS,
// the socket is given up and a new one tried.
function arm(ws) {
  clearTimeout(state.watchdog);
  state.watchdog = setTimeout(() => {
    if (state.ws !== ws) return;
    setOnline(false);
    ws.onclose = null; ws.onmessage = null;
    ws.close();
    const wait = Math.min(30000, 500 * 2 ** state.retry++) * (0.5 + Math.random() / 2);
    setTimeout(() => { if (state.token && state.ws === ws) connect(); }, wait);
  }, SILENCE_MS);
}

function signIn(token) {
  state.token = token;
  localStorage.setItem("screenpop.token", token);
  $("#login").hidden = true;
  $("#desk").hidden = false;
  $("#logout").hidden = false;
  // Sound needs a click on every page load; notifications once.
  $("#notify-hint").hidden = false;
  connect();
}

function signOut(reason) {
  state.token = null;
  clearTimeout(state.watchdog);
  localStorage.removeItem("screenpop.token");
  if (state.ws) state.ws.close();
  $("#desk").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  const err = $("#login-error");
  err.hidden = !reason;
  err.textContent = reason || "";
}

document.addEventListener("DOMContentLoaded", () => {
  state.seq = Number(sessionStorage.getItem("screenpop.seq") || 0);
  state.epoch = sessionStorage.getItem("screenpop.epoch") || "";
  applyLanguage();
  $("#lang").onclick = () => { lang = lang === "ru" ? "en" : "ru"; localStorage.setItem("screenpop.lang", lang); applyLanguage(); };
  $("#logout").onclick = () => signOut("");
  $("#notify").onclick = () => enableAttention();
  $("#login").onsubmit = (ev) => { ev.preventDefault(); signIn($("#token").value.trim()); };
  // A link from `screenpopd demo` or an admin carries the token in the
  // fragment, which browsers never send to the server.
  const m = location.hash.match(/token=([^&]+)/);
  if (m) history.replaceState(null, "", location.pathname);
  const token = m ? decodeURIComponent(m[1]) : localStorage.getItem("screenpop.token");
  if (token) signIn(token); else $("#login").hidden = false;
});
