// screenpop admin page: the ARI connection and its errors, the last events,
// the calls under way and how the last calls were classified. It reads
// GET /api/admin/status every few seconds with a staff token of the admin
// role. No build step: plain JavaScript served by the daemon.
"use strict";

const REFRESH_MS = 3000;

const TEXT = {
  ru: {
    title: "администрирование", signin: "Войти", token: "Ключ сотрудника (роль admin)", logout: "Выйти",
    tokenHint: "Ключ выдаёт команда screenpopd token add --name ИМЯ --role admin.",
    badToken: "Неизвестный ключ сотрудника. Ключ оператора здесь не подходит.",
    notAdmin: "Этот ключ не открывает страницу администратора: нужен ключ с ролью admin.",
    unreachable: "Нет связи с screenpopd: {reason}",
    ari: "Asterisk (ARI)", ariState: "Состояние", ariURL: "Адрес", ariApp: "Приложение", reconnects: "Переподключений",
    failures: "Неудачных попыток подряд", ariErrors: "Последние ошибки", noErrors: "Ошибок не было",
    connectedSince: "подключено с {t}", disconnectedSince: "нет подключения с {t}", notYet: "ещё не подключалось",
    replaced: "другой клиент занял имя приложения — события не приходят",
    ariOn: "ARI на связи", ariOff: "ARI нет связи",
    observeAll: "все звонки АТС", stasisOnly: "только звонки через Stasis",
    when: "Когда", kind: "Что", what: "Описание", times: "Раз",
    openCalls: "Звонки сейчас", noOpen: "Сейчас звонков нет", of: "{shown} из {all}",
    recentCalls: "Последние звонки", noRecent: "Звонков ещё не было",
    events: "Последние события", noEvents: "Событий ещё не было",
    started: "Начало", caller: "Номер", did: "Линия", state: "Состояние", operators: "Операторы", why: "Почему так",
    status: "Итог", answeredBy: "Ответил", received: "Получено", type: "Тип", channel: "Канал", result: "Обработка",
    updated: "обновлено {t}", withheld: "скрыт", inbound: "входящий", outbound: "исходящий",
    waiting: "ждёт", ringing: "звонит", answered: "разговор", ended: "завершается",
    ringingOps: "звонит у {ops}", talkingTo: "говорит с {op}",
    st_answered: "отвечен", st_missed: "пропущен", st_abandoned: "брошен", st_busy: "занято", st_failed: "не дозвонился",
    used: "использовано", skipped: "пропущено", unknown: "неизвестный тип", malformed: "повреждено", dropped: "потеряно",
    k_connect: "подключение", k_auth: "пароль", k_socket: "обрыв", k_filter: "фильтр событий",
    k_malformed: "повреждённое событие", k_overload: "перегрузка", k_replaced: "имя занято",
  },
  en: {
    title: "admin", signin: "Sign in", token: "Staff token (admin role)", logout: "Sign out",
    tokenHint: "screenpopd token add --name NAME --role admin makes one.",
    badToken: "Unknown staff token. An operator's key does not open this page.",
    notAdmin: "This token does not open the admin page: it needs the admin role.",
    unreachable: "No connection to screenpopd: {reason}",
    ari: "Asterisk (ARI)", ariState: "State", ariURL: "URL", ariApp: "Application", reconnects: "Reconnects",
    failures: "Failed attempts in a row", ariErrors: "Recent errors", noErrors: "No errors",
    connectedSince: "connected since {t}", disconnectedSince: "disconnected since {t}", notYet: "not connected yet",
    replaced: "another client took over the application name — no events come",
    ariOn: "ARI connected", ariOff: "ARI disconnected",
    observeAll: "every call on the PBX", stasisOnly: "only calls sent to Stasis",
    when: "When", kind: "Kind", what: "What", times: "Times",
    openCalls: "Calls now", noOpen: "No calls now", of: "{shown} of {all}",
    recentCalls: "Recent calls", noRecent: "No calls yet",
    events: "Last events", noEvents: "No events yet",
    started: "Started", caller: "Number", did: "Line", state: "State", operators: "Operators", why: "Why",
    status: "Status", answeredBy: "Answered by", received: "Received", type: "Type", channel: "Channel", result: "Handling",
    updated: "updated {t}", withheld: "withheld", inbound: "inbound", outbound: "outbound",
    waiting: "waiting", ringing: "ringing", answered: "talking", ended: "ending",
    ringingOps: "ringing at {ops}", talkingTo: "talking to {op}",
    st_answered: "answered", st_missed: "missed", st_abandoned: "abandoned", st_busy: "busy", st_failed: "failed",
    used: "used", skipped: "skipped", unknown: "unknown type", malformed: "malformed", dropped: "dropped",
    k_connect: "connect", k_auth: "password", k_socket: "dropped socket", k_filter: "event filter",
    k_malformed: "malformed event", k_overload: "overload", k_replaced: "name taken",
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

// The staff token is kept like the operator's key: in this browser only.
const TOKEN_KEY = "screenpop.staffToken";
const state = { token: localStorage.getItem(TOKEN_KEY), status: null, error: null, timer: null };

function time(iso, withDate) {
  if (!iso) return "";
  const d = new Date(iso);
  const opts = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
  if (withDate && d.toDateString() !== new Date().toDateString()) return d.toLocaleString(lang, opts);
  return d.toLocaleTimeString(lang, opts);
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  if (text instanceof Node) td.append(text); else td.textContent = text == null ? "" : String(text);
  tr.append(td);
  return td;
}

function classification(lines) {
  const ul = document.createElement("ul");
  ul.className = "classification";
  for (const line of lines || []) {
    const li = document.createElement("li");
    li.textContent = line;
    ul.append(li);
  }
  return ul;
}

function fillBody(table, rows, empty, columns) {
  const body = $(table + " tbody");
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement("tr");
    const td = cell(tr, t(empty), "empty");
    td.colSpan = columns;
    body.append(tr);
    return;
  }
  for (const tr of rows) body.append(tr);
}

function renderARI(ari) {
  const s = $("#ari-state");
  const up = ari.connected && !ari.replaced;
  s.className = up ? "on" : "off";
  if (ari.replaced) s.textContent = t("replaced");
  else if (!ari.since) s.textContent = t("notYet");
  else s.textContent = t(ari.connected ? "connectedSince" : "disconnectedSince", { t: time(ari.since, true) });
  const conn = $("#ari-conn");
  conn.className = "conn " + (up ? "on" : "off");
  conn.textContent = t(up ? "ariOn" : "ariOff");
  $("#ari-url").textContent = ari.url;
  $("#ari-app").textContent = ari.app + " · " + t(ari.subscribe_all ? "observeAll" : "stasisOnly");
  $("#ari-reconnects").textContent = String(ari.reconnects);
  $("#ari-failures").textContent = String(ari.failures);
  const rows = ari.errors.map((e) => {
    const tr = document.createElement("tr");
    tr.dataset.kind = e.kind;
    cell(tr, time(e.last, true), "when");
    cell(tr, t("k_" + e.kind), "kind-" + e.kind);
    cell(tr, e.text);
    cell(tr, e.count, "num");
    return tr;
  });
  fillBody("#ari-errors", rows, "noErrors", 4);
}

function renderOpen(calls, count) {
  $("#open-count").textContent = calls.length < count ? t("of", { shown: calls.length, all: count }) : "";
  const rows = calls.map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.callId = c.call_id;
    tr.dataset.state = c.state;
    cell(tr, time(c.started_at, true), "when");
    cell(tr, [c.caller || t("withheld"), c.caller_name, c.direction === "outbound" ? t("outbound") : ""].filter(Boolean).join(" · "));
    cell(tr, c.did);
    cell(tr, t(c.state), "state state-" + c.state);
    const ops = [];
    if (c.ringing && c.ringing.length) ops.push(t("ringingOps", { ops: c.ringing.join(", ") }));
    if (c.talking) ops.push(t("talkingTo", { op: c.talking }));
    cell(tr, ops.join("; "), "operators");
    cell(tr, classification(c.classification), "why");
    return tr;
  });
  fillBody("#open-calls", rows, "noOpen", 6);
}

function renderRecent(calls) {
  const rows = calls.map((c) => {
    const tr = document.createElement("tr");
    tr.dataset.callId = c.call_id;
    tr.dataset.status = c.status;
    cell(tr, time(c.started_at, true), "when");
    cell(tr, [c.caller || t("withheld"), c.caller_name, c.direction === "outbound" ? t("outbound") : ""].filter(Boolean).join(" · "));
    cell(tr, c.did);
    cell(tr, t("st_" + c.status), "status status-" + c.status);
    cell(tr, c.answered_by || "");
    cell(tr, classification(c.classification), "why");
    return tr;
  });
  fillBody("#recent-calls", rows, "noRecent", 6);
}

function renderEvents(events) {
  const rows = events.map((e) => {
    const tr = document.createElement("tr");
    tr.dataset.result = e.result;
    cell(tr, time(e.at), "when");
    cell(tr, e.type || "—");
    const channel = e.peer ? (e.channel || "·") + " → " + e.peer : e.channel;
    cell(tr, e.detail ? channel + " (" + e.detail + ")" : channel, "channel");
    cell(tr, t(e.result), "result-" + e.result);
    return tr;
  });
  fillBody("#events", rows, "noEvents", 4);
}

function render() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("#lang").textContent = lang === "ru" ? "EN" : "RU";
  const signedIn = !!state.token;
  $("#login").hidden = signedIn;
  $("#logout").hidden = !signedIn;
  $("#admin").hidden = !signedIn || !state.status;
  $("#ari-conn").hidden = !signedIn || !state.status;
  const problems = [...((state.status && state.status.problems) || [])];
  if (state.error) problems.unshift(state.error);
  $("#problems").hidden = problems.length === 0;
  $("#problems").textContent = problems.join(" · ");
  if (!state.status) return;
  const s = state.status;
  $("#updated").textContent = t("updated", { t: time(s.at) });
  renderARI(s.ari);
  renderOpen(s.open_calls, s.open_count);
  renderRecent(s.recent_calls);
  renderEvents(s.events);
}

// refuse signs out with message. An unknown token is forgotten; an
// analyst's is kept, for the reports page that shares it.
function refuse(message, forget) {
  clearTimeout(state.timer);
  if (forget) localStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.status = null;
  state.error = null;
  const err = $("#login-error");
  err.hidden = false;
  err.textContent = message;
  render();
}

async function refresh() {
  clearTimeout(state.timer);
  if (!state.token) return;
  try {
    const resp = await fetch("/api/admin/status", { headers: { "Authorization": "Bearer " + state.token }, cache: "no-store" });
    if (resp.status === 401) return refuse(t("badToken"), true);
    if (resp.status === 403) return refuse(t("notAdmin"), false);
    if (!resp.ok) {
      let msg = resp.status + " " + resp.statusText;
      try { msg = (await resp.json()).error || msg; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    state.status = await resp.json();
    state.error = null;
  } catch (e) {
    state.error = t("unreachable", { reason: e.message });
  }
  render();
  state.timer = setTimeout(refresh, REFRESH_MS);
}

$("#login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const token = $("#token").value.trim();
  if (!token) return;
  state.token = token;
  localStorage.setItem(TOKEN_KEY, token);
  $("#token").value = "";
  $("#login-error").hidden = true;
  render();
  refresh();
});
$("#logout").addEventListener("click", () => {
  clearTimeout(state.timer);
  localStorage.removeItem(TOKEN_KEY);
  state.token = null;
  state.status = null;
  render();
});
$("#lang").addEventListener("click", () => {
  lang = lang === "ru" ? "en" : "ru";
  localStorage.setItem("screenpop.lang", lang);
  render();
});

// A link from `screenpopd demo` or an admin may carry the token in the
// fragment, which browsers never send to the server.
const fromLink = location.hash.match(/token=([^&]+)/);
if (fromLink) {
  history.replaceState(null, "", location.pathname + location.search);
  state.token = decodeURIComponent(fromLink[1]);
  localStorage.setItem(TOKEN_KEY, state.token);
}

render();
refresh();
