// screenpop wallboard: the call centre live, for a wall TV. A staff token
// of the supervisor role opens it; the daemon sends the board every
// second over /wallboard/ws (see screenpop/web/wallboard.go).
import { $, el, t, lang, addText, applyTexts, onLanguage, session, signing, live, showOnline } from "./page.js";

// No board for this long: the daemon is gone or hung, and the page says so.
const SILENCE_MS = 5000;
const TOKEN_KEY = "screenpop.staffToken";

addText({
  title: ["табло", "wallboard"], token: ["Ключ сотрудника (роль supervisor)", "Staff token (supervisor role)"],
  tokenHint: ["Ключ выдаёт команда screenpopd token add --name ИМЯ --role supervisor.", "screenpopd token add --name NAME --role supervisor makes one."],
  badToken: ["Ключ не подходит: табло открывает ключ сотрудника с ролью supervisor или admin.", "This token does not open the wallboard: it needs a staff token of the supervisor or admin role."],
  waiting: ["Ждут ответа", "Waiting"], talking: ["Разговоры", "Talking"], answeredToday: ["Отвечено сегодня", "Answered today"], lostToday: ["Потеряно сегодня", "Lost today"],
  serviceLevel: ["Уровень сервиса", "Service level"], callbacks: ["Перезвонить", "Callbacks"], queue: ["Звонки сейчас", "Calls now"], today: ["Сегодня по линиям", "Today by line"],
  operators: ["Операторы", "Operators"], line: ["Линия", "Line"], calls: ["Звонков", "Calls"], answered: ["Отвечено", "Answered"], lost: ["Потеряно", "Lost"], sl: ["Ур. сервиса", "Service level"],
  noCalls: ["Никто не ждёт", "Nobody waiting"], longest: ["дольше всех {t}", "longest {t}"], noCallbacks: ["список пуст", "list empty"], oldest: ["старейший {t}", "oldest {t}"],
  within: ["ответ за {s} с", "answered within {s} s"], noSL: ["нет данных", "no data"], total: ["Всего", "Total"], ofCalls: ["из {n}", "of {n}"],
  st_waiting: ["ждёт", "waiting"], st_ringing: ["звонит", "ringing"], op_ringing: ["звонит", "ringing"], op_talking: ["говорит", "talking"], op_free: ["свободен", "free"],
  incomplete: ["Табло неполное: часть данных не прочитана ({n})", "The board is incomplete: some figures could not be read ({n})"],
  unseen: ["Сегодня сервер не видел АТС {t}: звонков, начатых и законченных тогда, нет в цифрах", "Today the daemon did not see the PBX for {t}: calls that began and ended then are not in the figures"],
  op_offline: ["не в сети", "offline"], rings: ["звонит у {names}", "ringing at {names}"], noLine: ["без линии", "no line"], outbound: ["исходящий", "outbound"],
});

const state = { board: null, offset: 0 };

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
  // What the daemon could not read, in its own words, is a detail on hover.
  problems.hidden = !b.problems.length;
  problems.textContent = t("incomplete", { n: b.problems.length });
  problems.title = b.problems.join("\n");
  // Today's time the daemon did not see the PBX: the figures lack the
  // calls that began and ended then.
  $("#unseen").hidden = !(b.unseen_seconds > 0);
  $("#unseen").textContent = t("unseen", { t: fmtDuration(b.unseen_seconds || 0) });

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
  applyTexts();
  setOnline(socket.online && state.board !== null);
  render();
}

// ---- connection ----

function setOnline(on) {
  showOnline(on);
  $("#board").classList.toggle("stale", !on);
}

let signOut; // set once the page has its sign-in form
const socket = live({
  path: "/wallboard/ws",
  hello: () => ({ type: "hello", token: session.token }),
  silenceMs: SILENCE_MS,
  // Online once a board has come; offline at once.
  online: (on) => { if (!on) setOnline(false); },
  onMessage: (msg) => {
    if (msg.type !== "board") return;
    state.offset = Date.now() - Date.parse(msg.board.at);
    state.board = msg.board;
    setOnline(true);
    render();
    renderClock();
  },
  // Refused: an unknown token is forgotten; another role's stays saved
  // for the page it opens (reports, admin).
  refused: (ev) => signOut(t("badToken"), ev.reason.startsWith("unknown")),
});

document.addEventListener("DOMContentLoaded", () => {
  applyLanguage();
  onLanguage(applyLanguage);
  setInterval(() => { render(); renderClock(); }, 1000);
  ({ signOut } = signing({ key: TOKEN_KEY, main: $("#board"), signedIn: () => socket.connect(), signedOut: () => socket.close() }));
});
