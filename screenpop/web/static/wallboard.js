// screenpop wallboard: the call centre live, for a wall TV. A staff token
// of the supervisor role opens it; the daemon sends the board every
// second over /wallboard/ws (see screenpop/web/wallboard.go).
"use strict";

const MESSAGE_VERSION = 1;
// No board for this long: the daemon is gone or hung, and the page says so.
const SILENCE_MS = 5000;
const TOKEN_KEY = "screenpop.staffToken";

const TEXT = {
  ru: {
    title: "табло", signin: "Войти", token: "Ключ сотрудника (роль supervisor)", logout: "Выйти",
    tokenHint: "Ключ выдаёт команда screenpopd token add --name ИМЯ --role supervisor.",
    badToken: "Ключ не подходит: табло открывает ключ сотрудника с ролью supervisor или admin.",
    online: "на связи", offline: "нет связи",
    waiting: "Ждут ответа", talking: "Разговоры", answeredToday: "Отвечено сегодня", lostToday: "Потеряно сегодня",
    serviceLevel: "Уровень сервиса", callbacks: "Перезвонить", queue: "Звонки сейчас", today: "Сегодня по линиям",
    operators: "Операторы", line: "Линия", calls: "Звонков", answered: "Отвечено", lost: "Потеряно", sl: "Ур. сервиса",
    noCalls: "Никто не ждёт", longest: "дольше всех {t}", noCallbacks: "список пуст", oldest: "старейший {t}",
    within: "ответ за {s} с", noSL: "нет данных", total: "Всего", ofCalls: "из {n}",
    st_waiting: "ждёт", st_ringing: "звонит", op_ringing: "звонит", op_talking: "говорит", op_free: "свободен",
    op_offline: "не в сети", rings: "звонит у {names}", noLine: "без линии", outbound: "исходящий",
  },
  en: {
    title: "wallboard", signin: "Sign in", token: "Staff token (supervisor role)", logout: "Sign out",
    tokenHint: "screenpopd token add --name NAME --role supervisor makes one.",
    badToken: "This token does not open the wallboard: it needs a staff token of the supervisor or admin role.",
    online: "online", offline: "offline",
    waiting: "Waiting", talking: "Talking", answeredToday: "Answered today", lostToday: "Lost today",
    serviceLevel: "Service level", callbacks: "Callbacks", queue: "Calls now", today: "Today by line",
    operators: "Operators", line: "Line", calls: "Calls", answered: "Answered", lost: "Lost", sl: "Service level",
    noCalls: "Nobody waiting", longest: "longest {t}", noCallbacks: "list empty", oldest: "oldest {t}",
    within: "answered within {s} s", noSL: "no data", total: "Total", ofCalls: "of {n}",
    st_waiting: "waiting", st_ringing: "ringing", op_ringing: "ringing", op_talking: "talking", op_free: "free",
    op_offline: "offline", rings: "ringing at {names}", noLine: "no line", outbound: "outbound",
  },
};

let lang = localStorage.getItem("screenpop.lang") || (navigator.language || "ru").slice(0, 2);
if (!TEXT[lang]) lang = "ru";
const t = (key, vars) => {
  let s = TEXT[lang][key] || TEXT.en[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", v);
  return s;
};
const $ = (sel) => document.querySelector(sel);

const state = { token: null, ws: null, board: null, offset: 0, retry: 0, watchdog: null };

// ---- time ----

const now = () => Date.now() - state.offset; // the daemon's clock
function secondsSince(iso) { return Math.max(0, (now() - Date.parse(iso)) / 1000); }
function fmtDuration(secs) {
  secs = Math.floor(secs);
  const h = Math.floor(secs / 3600), m = Math.floor(secs / 60) % 60, s = secs % 60;
  const mmss = String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
  return h > 0 ? h + ":" + mmss : mmss;
}
function level(value, amber, red, lowerIsWorse) {
  if (value === null || value === undefined) return "";
  if (lowerIsWorse) return value < red ? "red" : value < amber ? "amber" : "";
  return value >= red ? "red" : value >= amber ? "amber" : "";
}
const worst = (...ls) => (ls.includes("red") ? "red" : ls.includes("amber") ? "amber" : "");

// ---- drawing ----

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function tile(id, value, sub, lvl, neutral) {
  const box = $("#" + id);
  box.className = "tile" + (neutral ? " neutral" : "") + (lvl ? " " + lvl : "");
  box.dataset.level = lvl || (neutral ? "neutral" : "ok");
  box.querySelector(".value").textContent = value;
  box.querySelector(".sub").textContent = sub || "";
}

function fmtPercent(v) { return v === null || v === undefined ? "—" : Math.round(v) + "%"; }

function render() {
  const b = state.board;
  if (!b) return;
  const th = b.thresholds;
  const problems = $("#problems");
  problems.hidden = !b.problems.length;
  problems.textContent = b.problems.join(" · ");

  // Now: the calls waiting, longest first.
  const waits = b.calls.map((c) => secondsSince(c.started_at));
  const longest = waits.length ? Math.max(...waits) : 0;
  tile("tile-waiting", String(b.calls.length), waits.length ? t("longest", { t: fmtDuration(longest) }) : t("noCalls"),
    waits.length ? level(longest, th.wait_amber_seconds, th.wait_red_seconds) : "");
  tile("tile-talking", String(b.talking), "", "", true);
  const list = $("#calls");
  list.replaceChildren();
  if (!b.calls.length) list.append(el("li", "empty", t("noCalls")));
  b.calls.forEach((c, i) => {
    const li = el("li", "state-" + c.state);
    li.dataset.callId = c.call_id;
    li.dataset.state = c.state;
    const lvl = level(waits[i], th.wait_amber_seconds, th.wait_red_seconds);
    if (lvl) li.classList.add(lvl);
    li.dataset.level = lvl || "ok";
    li.append(el("span", "line", c.line || t("noLine")), el("span", "state", t("st_" + c.state)));
    if (c.ringing.length) li.append(el("span", "who", t("rings", { names: c.ringing.join(", ") })));
    li.append(el("span", "wait", fmtDuration(waits[i])));
    list.append(li);
  });

  // Operators.
  const ops = $("#operators");
  ops.replaceChildren();
  for (const op of b.operators) {
    const li = el("li", "state-" + op.state);
    li.dataset.extension = op.extension;
    li.dataset.state = op.state;
    li.title = op.extension;
    li.append(el("span", "name", op.name), el("span", "state", t("op_" + op.state)));
    if (op.line) li.append(el("span", "line", op.line));
    li.append(el("span", "for", op.since ? fmtDuration(secondsSince(op.since)) : ""));
    ops.append(li);
  }

  // Today, by line.
  const tot = b.total;
  tile("tile-answered", String(tot.answered), t("ofCalls", { n: tot.calls }), "", true);
  tile("tile-lost", String(tot.lost), t("ofCalls", { n: tot.calls }), "", true);
  tile("tile-sl", fmtPercent(tot.service_level), t("within", { s: th.service_level_seconds }),
    level(tot.service_level, th.service_level_amber, th.service_level_red, true), tot.service_level === null);
  const body = $("#lines tbody");
  body.replaceChildren();
  const row = (l, name, cls) => {
    const tr = el("tr", cls);
    tr.dataset.line = name;
    tr.append(el("td", "line", name));
    for (const [k, v] of [["calls", l.calls], ["answered", l.answered], ["lost", l.lost]]) {
      const td = el("td", "num n-" + k, String(v));
      tr.append(td);
    }
    const sl = el("td", "num n-sl", fmtPercent(l.service_level));
    const lvl = level(l.service_level, th.service_level_amber, th.service_level_red, true);
    if (lvl) sl.classList.add(lvl);
    tr.append(sl);
    return tr;
  };
  for (const l of b.lines) body.append(row(l, l.line || t("noLine")));
  if (b.lines.length > 1) body.append(row(tot, t("total"), "total"));

  // The callback list.
  const cb = b.callbacks;
  const age = cb.oldest ? secondsSince(cb.oldest) : null;
  tile("tile-callbacks", String(cb.count), cb.oldest ? t("oldest", { t: fmtDuration(age) }) : t("noCallbacks"),
    worst(level(cb.count, th.callbacks_amber, th.callbacks_red), level(age, th.callback_age_amber_seconds, th.callback_age_red_seconds)));
}

function renderClock() {
  $("#clock").textContent = new Date(now()).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
  $("#lang").textContent = lang === "ru" ? "EN" : "RU";
  setOnline(state.ws !== null && state.board !== null && !$("#board").classList.contains("stale"));
  render();
}

// ---- connection ----

function setOnline(on) {
  const c = $("#conn");
  c.className = "conn " + (on ? "on" : "off");
  c.textContent = t(on ? "online" : "offline");
  $("#board").classList.toggle("stale", !on);
}

// A daemon that stops sending (hung, or its network gone) is offline
// after SILENCE_MS, even though the socket has not closed.
function arm() {
  clearTimeout(state.watchdog);
  state.watchdog = setTimeout(() => {
    setOnline(false);
    const ws = state.ws;
    if (ws) { ws.onclose = null; ws.onmessage = null; ws.close(); }
    state.ws = null;
    reconnectLater();
  }, SILENCE_MS);
}

function reconnectLater() {
  const wait = Math.min(10000, 500 * 2 ** state.retry++) * (0.5 + Math.random() / 2);
  setTimeout(() => { if (state.token && !state.ws) connect(); }, wait);
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(proto + "//" + location.host + "/wallboard/ws");
  state.ws = ws;
  arm();
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", token: state.token }));
  ws.onmessage = (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    if (msg.v !== MESSAGE_VERSION) { location.reload(); return; }
    arm();
    state.retry = 0;
    if (msg.type !== "board") return;
    state.offset = Date.now() - Date.parse(msg.board.at);
    state.board = msg.board;
    setOnline(true);
    render();
    renderClock();
  };
  ws.onclose = (ev) => {
    clearTimeout(state.watchdog);
    state.ws = null;
    setOnline(false);
    // Refused: an unknown token is forgotten; another role's stays saved
    // for the page it opens (reports, admin).
    if (ev.code === 1008) { signOut(t("badToken"), ev.reason.startsWith("unknown")); return; }
    reconnectLater();
  };
}

function signIn(token) {
  state.token = token;
  localStorage.setItem(TOKEN_KEY, token);
  $("#login").hidden = true;
  $("#board").hidden = false;
  $("#logout").hidden = false;
  connect();
}

function signOut(reason, forget) {
  state.token = null;
  clearTimeout(state.watchdog);
  if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
  if (forget) localStorage.removeItem(TOKEN_KEY);
  $("#board").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  const err = $("#login-error");
  err.hidden = !reason;
  err.textContent = reason || "";
}

document.addEventListener("DOMContentLoaded", () => {
  applyLanguage();
  $("#lang").onclick = () => { lang = lang === "ru" ? "en" : "ru"; localStorage.setItem("screenpop.lang", lang); applyLanguage(); };
  $("#logout").onclick = () => { localStorage.removeItem(TOKEN_KEY); signOut(""); };
  $("#login").onsubmit = (ev) => { ev.preventDefault(); signIn($("#token").value.trim()); };
  setInterval(() => { render(); renderClock(); }, 1000);
  const m = location.hash.match(/token=([^&]+)/);
  if (m) history.replaceState(null, "", location.pathname);
  const token = m ? decodeURIComponent(m[1]) : localStorage.getItem(TOKEN_KEY);
  if (token) signIn(token); else $("#login").hidden = false;
});
