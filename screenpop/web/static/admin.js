// screenpop admin page: the ARI connection and its errors, the last events,
// the calls under way and how the last calls were classified. It reads
// GET /api/admin/status every few seconds with a staff token of the admin
// role. No build step: an ES module served by the daemon.
import { $, t, lang, addText, applyTexts, onLanguage, api, session, signing } from "./page.js";

const REFRESH_MS = 3000;

addText({
  title: ["администрирование", "admin"], token: ["Ключ сотрудника (роль admin)", "Staff token (admin role)"],
  tokenHint: ["Ключ выдаёт команда screenpopd token add --name ИМЯ --role admin.", "screenpopd token add --name NAME --role admin makes one."],
  badToken: ["Неизвестный ключ сотрудника. Ключ оператора здесь не подходит.", "Unknown staff token. An operator's key does not open this page."],
  notAdmin: ["Этот ключ не открывает страницу администратора: нужен ключ с ролью admin.", "This token does not open the admin page: it needs the admin role."],
  unreachable: ["Нет связи с screenpopd: {reason}", "No connection to screenpopd: {reason}"],
  ari: ["Asterisk (ARI)", "Asterisk (ARI)"], ariState: ["Состояние", "State"], ariURL: ["Адрес", "URL"], ariApp: ["Приложение", "Application"], reconnects: ["Переподключений", "Reconnects"],
  failures: ["Неудачных попыток подряд", "Failed attempts in a row"], ariErrors: ["Последние ошибки", "Recent errors"], noErrors: ["Ошибок не было", "No errors"],
  connectedSince: ["подключено с {t}", "connected since {t}"], disconnectedSince: ["нет подключения с {t}", "disconnected since {t}"], notYet: ["ещё не подключалось", "not connected yet"],
  replaced: ["другой клиент занял имя приложения — события не приходят", "another client took over the application name — no events come"],
  ariOn: ["ARI на связи", "ARI connected"], ariOff: ["ARI нет связи", "ARI disconnected"],
  observeAll: ["все звонки АТС", "every call on the PBX"], stasisOnly: ["только звонки через Stasis", "only calls sent to Stasis"],
  when: ["Когда", "When"], kind: ["Что", "Kind"], what: ["Описание", "What"], times: ["Раз", "Times"],
  openCalls: ["Звонки сейчас", "Calls now"], noOpen: ["Сейчас звонков нет", "No calls now"], of: ["{shown} из {all}", "{shown} of {all}"],
  recentCalls: ["Последние звонки", "Recent calls"], noRecent: ["Звонков ещё не было", "No calls yet"],
  events: ["Последние события", "Last events"], noEvents: ["Событий ещё не было", "No events yet"],
  started: ["Начало", "Started"], caller: ["Номер", "Number"], did: ["Линия", "Line"], state: ["Состояние", "State"], operators: ["Операторы", "Operators"], why: ["Почему так", "Why"],
  status: ["Итог", "Status"], answeredBy: ["Ответил", "Answered by"], received: ["Получено", "Received"], type: ["Тип", "Type"], channel: ["Канал", "Channel"], result: ["Обработка", "Handling"],
  updated: ["обновлено {t}", "updated {t}"], withheld: ["скрыт", "withheld"], inbound: ["входящий", "inbound"], outbound: ["исходящий", "outbound"],
  waiting: ["ждёт", "waiting"], ringing: ["звонит", "ringing"], answered: ["разговор", "talking"], ended: ["завершается", "ending"],
  ringingOps: ["звонит у {ops}", "ringing at {ops}"], talkingTo: ["говорит с {op}", "talking to {op}"],
  st_answered: ["отвечен", "answered"], st_missed: ["пропущен", "missed"], st_abandoned: ["брошен", "abandoned"], st_busy: ["занято", "busy"], st_failed: ["не дозвонился", "failed"],
  used: ["использовано", "used"], skipped: ["пропущено", "skipped"], unknown: ["неизвестный тип", "unknown type"], malformed: ["повреждено", "malformed"], dropped: ["потеряно", "dropped"],
  k_connect: ["подключение", "connect"], k_auth: ["пароль", "password"], k_socket: ["обрыв", "dropped socket"], k_filter: ["фильтр событий", "event filter"],
  k_malformed: ["повреждённое событие", "malformed event"], k_overload: ["перегрузка", "overload"], k_replaced: ["имя занято", "name taken"],
  unseenTitle: ["Когда сервер не видел АТС (звонков, начатых и законченных тогда, нет в журнале)", "When the daemon did not see the PBX (calls that began and ended then are not in the call log)"],
  unseenFrom: ["С", "From"], unseenTo: ["По", "To"], unseenBox: ["АТС", "PBX"], unseenWhy: ["Причина", "Reason"], unseenOpen: ["Звонков шло после", "Calls in progress after"],
  noUnseen: ["Таких периодов не было", "No such periods"], singleBox: ["(одна)", "(the one)"],
  u_ari_drop: ["обрыв связи с ARI", "ARI drop"], u_stopped: ["сервер остановлен", "daemon stopped"], u_crashed: ["сервер убит или упал", "daemon killed or crashed"],
  cluster: ["Кластер", "Cluster"], thisReplica: ["эта реплика: {name}", "this replica: {name}"], replica: ["Реплика", "Replica"], address: ["Адрес", "Address"],
  holds: ["Держит АТС", "Holds box"], lag: ["Отставание, сообщений", "Lag, messages"], takeovers: ["Перехватов", "Takeovers"], sockets: ["Страниц", "Pages"],
  startedAt: ["Запущена", "Started"], seen: ["Отметка", "Last heartbeat"], standby: ["резерв", "standby"], noReplicas: ["Реплик не видно", "No replicas seen"],
  box: ["АТС", "Box"], holder: ["Держатель", "Holder"], epoch: ["Эпоха", "Epoch"], heldSince: ["С", "Since"], noLeases: ["Ни одну АТС никто не держит", "No replica holds a box"],
});

// The staff token is kept like the operator's key: in this browser only.
const TOKEN_KEY = "screenpop.staffToken";
const state = { status: null, error: null, timer: null };

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

// renderCluster shows the replicas (from their heartbeats) and who holds
// each box; a single daemon has no cluster part.
function renderCluster(c) {
  $("#cluster").hidden = !c;
  if (!c) return;
  $("#cluster-replica").textContent = t("thisReplica", { name: c.replica });
  const replicas = c.replicas.map((r) => {
    const tr = document.createElement("tr");
    if (r.name === c.replica) tr.className = "this";
    cell(tr, r.name);
    cell(tr, r.addr);
    cell(tr, r.boxes.length ? r.boxes.join(", ") : t("standby"));
    cell(tr, String(r.lag));
    cell(tr, String(r.takeovers));
    cell(tr, String(r.sockets));
    cell(tr, time(r.started, true));
    cell(tr, time(r.seen));
    return tr;
  });
  fillBody("#cluster-replicas", replicas, "noReplicas", 8);
  const leases = c.leases.map((l) => {
    const tr = document.createElement("tr");
    cell(tr, l.pbx || "—");
    cell(tr, l.holder);
    cell(tr, l.epoch ? String(l.epoch) : "?");
    cell(tr, time(l.since, true));
    return tr;
  });
  fillBody("#cluster-leases", leases, "noLeases", 4);
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

// renderUnseen lists the last periods the daemon did not see the PBX.
function renderUnseen(periods) {
  const rows = periods.map((u) => {
    const tr = document.createElement("tr");
    tr.title = u.warning;
    cell(tr, time(u.from, true), "when");
    cell(tr, time(u.to, true), "when");
    cell(tr, u.pbx || t("singleBox"));
    cell(tr, t("u_" + u.reason));
    cell(tr, u.calls_in_progress);
    return tr;
  });
  fillBody("#unseen", rows, "noUnseen", 5);
}

function render() {
  applyTexts();
  const signedIn = !!session.token;
  $("#admin").hidden = !signedIn || !state.status;
  $("#ari-conn").hidden = !signedIn || !state.status;
  // The daemon's problems are what this page is for: shown as the daemon
  // words them, as its log does.
  const problems = [...((state.status && state.status.problems) || [])];
  if (state.error) problems.unshift(state.error.text);
  $("#problems").hidden = problems.length === 0;
  $("#problems").textContent = problems.join(" · ");
  $("#problems").title = (state.error && state.error.detail) || "";
  if (!state.status) return;
  const s = state.status;
  $("#updated").textContent = t("updated", { t: time(s.at) });
  renderCluster(s.cluster);
  renderARI(s.ari);
  renderOpen(s.open_calls, s.open_count);
  renderRecent(s.recent_calls);
  renderUnseen(s.unseen || []);
  renderEvents(s.events);
}

async function refresh() {
  clearTimeout(state.timer);
  if (!session.token) return;
  try {
    state.status = await api("GET", "/api/admin/status");
    state.error = null;
  } catch (e) {
    // An unknown token is forgotten; an analyst's is kept, for the
    // reports page that shares it.
    if (e.status === 401) { signOut(t("badToken"), true); return; }
    if (e.status === 403) { signOut(t("notAdmin"), false); return; }
    state.error = { text: t("unreachable", { reason: e.message }), detail: e.detail };
  }
  render();
  state.timer = setTimeout(refresh, REFRESH_MS);
}

onLanguage(render);
const { signOut } = signing({
  key: TOKEN_KEY,
  main: $("#admin"),
  signedIn: () => { render(); refresh(); },
  signedOut: () => {
    clearTimeout(state.timer);
    state.status = null;
    state.error = null;
    render();
  },
});
render();
