// screenpop reports page: which advertising brings calls, and how many of
// them are lost. It draws what GET /api/reports/summary answers, with
// Chart.js (vendor/), and puts the same numbers in tables beside each
// chart. No build step: an ES module served by the daemon.
import { $, t, lang, addText, hasText, applyTexts, onLanguage, api, session, signing } from "./page.js";

addText({
  title: ["Отчёты", "Reports"], token: ["Токен аналитика", "Analyst token"],
  tokenHint: ["Отчёты открывает токен аналитика или администратора: screenpopd token add --name ИМЯ --role analyst.", "Reports open with an analyst's or an admin's token: screenpopd token add --name NAME --role analyst."],
  badToken: ["Этот ключ не подходит: нужен токен аналитика. Ключи операторов открывают только страницу звонков.", "This key does not open reports: it needs an analyst's token. Operators' keys open the pop page only."],
  forbidden: ["Этому токену отчёты недоступны: нужна роль аналитика.", "This token may not read reports: it needs the analyst role."],
  from: ["С", "From"], to: ["по", "to"], show: ["Показать", "Show"], today: ["Сегодня", "Today"], days7: ["7 дней", "7 days"], days30: ["30 дней", "30 days"], thisMonth: ["Этот месяц", "This month"],
  exportAll: ["Все звонки периода (CSV)", "All calls of these days (CSV)"], export: ["CSV", "CSV"],
  loading: ["Загружаем…", "Loading…"], loadFailed: ["Не удалось загрузить отчёт: {err}", "Could not load the report: {err}"],
  badRange: ["даты не подходят: проверьте начало и конец периода", "the dates do not fit: check the start and end of the period"],
  period: ["{from} — {to}, время UTC{offset}", "{from} to {to}, times in UTC{offset}"],
  calls: ["Звонки", "Calls"], answered: ["Отвечены", "Answered"], missed: ["Пропущены", "Missed"], abandoned: ["Брошены", "Abandoned"], busy: ["Занято", "Busy"], failed_status: ["Не дозвонились", "Failed"],
  lost: ["Потеряны", "Lost"], lostShare: ["Доля потерянных", "Lost share"], newCallers: ["Новые", "New callers"], share: ["Доля", "Share"],
  waitAvg: ["Ожидание, среднее", "Wait, average"], waitP90: ["Ожидание, 90% ждали не дольше", "Wait, 90% within"],
  bySourceDay: ["Звонки по источникам и дням", "Calls by source and day"], bySource: ["Источники за период", "Sources over the period"],
  bySourceDayCaption: ["Звонки по дням: по источникам и всего", "Calls by day: by source and in all"],
  chartTable: ["Таблица графика", "The chart's table"], source: ["Источник", "Source"], noSource: ["(без источника)", "(no source)"], total: ["Всего", "Total"],
  outcomes: ["Чем закончились звонки", "How the calls ended"], outcome: ["Итог", "Outcome"],
  byHour: ["Потерянные звонки по часам", "Lost calls by hour of day"], hour: ["Час", "Hour"], lostRateAxis: ["Потеряно", "Lost"], callsAxis: ["Звонки", "Calls"],
  waitByDay: ["Ожидание ответа по дням", "Waiting for an answer, by day"], date: ["День", "Day"], seconds: ["{n} с", "{n} s"],
  operators: ["Операторы", "Operators"], operator: ["Оператор", "Operator"], offered: ["Звонило", "Rang"], noAnswer: ["Не ответил", "Not answered"],
  answerRate: ["Доля отвеченных", "Answer rate"], ringAvg: ["Звонок до ответа, среднее", "Ringing before answer, average"], talkAvg: ["Разговор, среднее", "Talk, average"],
  chartLabel: ["{title}: график; те же числа в таблице ниже.", "{title}: chart; the same numbers are in the table below."],
  noCalls: ["За эти дни входящих звонков нет.", "No inbound calls on these days."],
  serviceLevel: ["Уровень сервиса: ответ за {n} с", "Service level: answered within {n} s"], distinctCallers: ["Разных номеров", "Distinct callers"], newNumbers: ["Новых номеров", "New numbers"],
  callbackMedian: ["Перезвон пропущенным, медиана", "Missed callers called back, median"], neverCalledBack: ["Пропущенным не перезвонили", "Missed callers never called back"],
  previous: ["прошлый период: {v}", "previous period: {v}"], none: ["—", "—"],
  comparison: ["Сравнение с прошлым периодом", "Against the previous period"], figure: ["Показатель", "Figure"], thisPeriod: ["{from} — {to}", "{from} to {to}"], change: ["Изменение", "Change"],
  purposes: ["Цели звонков по источникам", "Call purposes by source"], purposesNone: ["Операторы не отметили цель ни одного звонка этих дней.", "Operators noted no purpose on any call of these days."],
  purposeCalls: ["{n} ({p})", "{n} ({p})"],
  callbacks: ["Перезвоны пропущенным", "Calling missed callers back"], missedWithNumber: ["Пропущено (с номером)", "Missed (with a number)"], calledBack: ["Перезвонили", "Called back"],
  within1h: ["За час", "Within an hour"], within1d: ["За сутки", "Within a day"], never: ["Не перезвонили", "Never"], median: ["Медиана", "Median"],
  operatorsNote: ["Доля отвеченных — из звонков, которые оператор мог взять: звонок, который при одновременном вызове взял коллега, ему не в минус.", "Answer rate is of the calls the operator could take: a call a colleague took while both phones rang does not count against them."],
  callsRang: ["Звонков поступило", "Calls that rang"], takenByColleague: ["Взял коллега", "Taken by a colleague"], missedCalls: ["Пропустил", "Missed"], rings: ["Вызовов телефона", "Rings"],
  purpose_service_booking: ["Запись на сервис", "Service booking"], purpose_sales: ["Покупка автомобиля", "Car purchase"], purpose_parts: ["Запчасти", "Parts"],
  purpose_complaint: ["Жалоба", "Complaint"], purpose_other: ["Другое", "Other"],
  unseen: ["Сервер не видел АТС {time} за эти дни ({n} раз: обрыв связи с Asterisk, остановка или сбой сервера): звонки, которые начались и закончились в это время, в отчёт не попали.",
    "The daemon did not see the PBX for {time} on these days ({n} times: the ARI connection down, the daemon stopped or crashed): calls that began and ended then are not in the report."],
});


// The outcomes in the order the page shows them, with their colours (the
// operator page's green, orange and red).
const OUTCOMES = [
  { key: "answered", text: "answered", color: "#1a7f37" },
  { key: "missed", text: "missed", color: "#d97706" },
  { key: "abandoned", text: "abandoned", color: "#c4272b" },
  { key: "busy", text: "busy", color: "#7c3aed" },
  { key: "failed", text: "failed_status", color: "#6b7385" },
];
const PALETTE = ["#0b5cad", "#d97706", "#1a7f37", "#c4272b", "#7c3aed", "#0891b2", "#be185d", "#65a30d",
  "#b45309", "#4f46e5", "#0f766e", "#9f1239", "#6b7385", "#ca8a04"];

const state = { summary: null, charts: {}, loads: 0, retryTimer: null };

// ---- numbers as the tables show them ----

const int = (n) => new Intl.NumberFormat(lang).format(n);
// A rate (0 to 1) as a percentage to a tenth.
const pct = (r) => new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(Math.round(r * 1000) / 10) + "%";
const secs = (s) => t("seconds", { n: new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(s) });
const sourceName = (s) => s || t("noSource");
// A figure over nothing (the wait of a day nobody was answered on) is
// shown empty, never as 0.
const maybe = (n, text) => (n ? text : t("none"));
const purposeName = (p) => (hasText("purpose_" + p) ? t("purpose_" + p) : p);
// A duration in seconds as the callbacks read: "45 s", "12 min", "3.5 h".
const dur = (s) => {
  const f = (v) => new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(v);
  if (s < 120) return secs(s);
  if (s < 7200) return f(s / 60) + (lang === "ru" ? " мин" : " min");
  return f(s / 3600) + (lang === "ru" ? " ч" : " h");
};
// A day of the API (2006-01-02) as a short label: "10.03", "Mar 10".
const dayLabel = (d) => new Date(d + "T00:00:00Z").toLocaleDateString(lang, { timeZone: "UTC", day: "2-digit", month: lang === "ru" ? "2-digit" : "short" });
const dayLong = (d) => new Date(d + "T00:00:00Z").toLocaleDateString(lang, { timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric" });
const operatorName = (o) => (o.name ? o.name + " (" + o.operator + ")" : o.operator);

// ---- dates of the range ----

function isoDate(d) {
  return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" + String(d.getDate()).padStart(2, "0");
}

function quickRange(which) {
  const today = new Date();
  const from = new Date(today);
  if (which === "month") from.setDate(1);
  else if (which !== "today") from.setDate(from.getDate() - (Number(which) - 1));
  return [isoDate(from), isoDate(today)];
}

// ---- the API ----

function fetchSummary(from, to) {
  const q = new URLSearchParams();
  if (from) q.set("from", from);
  if (to) q.set("to", to);
  return api("GET", "/api/reports/summary?" + q, undefined, { 400: "badRange" });
}

async function load(from, to, attempt = 0) {
  // Only the last range asked for is shown, whichever answer comes last.
  const n = ++state.loads;
  clearTimeout(state.retryTimer);
  $("#status").textContent = t("loading");
  $("#refusal").hidden = true;
  let s;
  try {
    s = await fetchSummary(from, to);
  } catch (err) {
    if (n !== state.loads) return;
    $("#status").textContent = "";
    if (err.status === 401) { signOut(t("badToken")); return; }
    if (err.status === 403) { refuse(t("forbidden"), err.detail); return; }
    // Anything else (503: the token could not be checked, the store is
    // down or slow; the server unreachable) keeps the token and tries
    // again, waiting longer each time, up to 10 s.
    $("#status").textContent = t("loadFailed", { err: err.message });
    $("#status").title = err.detail;
    const wait = Math.min(10000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
    state.retryTimer = setTimeout(() => { if (session.token && n === state.loads) load(from, to, attempt + 1); }, wait);
    return;
  }
  if (n !== state.loads) return;
  $("#status").title = "";
  state.summary = s;
  $("#from").value = s.from;
  $("#to").value = s.to;
  // The range goes in the address, so that the report can be reloaded or
  // passed on (without the token).
  history.replaceState(null, "", location.pathname + "?from=" + s.from + "&to=" + s.to);
  $("#status").textContent = s.totals.total ? "" : t("noCalls");
  render();
}

// refuse says the token may not read reports; the daemon's words on hover.
function refuse(text, detail) {
  $("#figures").hidden = true;
  const el = $("#refusal");
  el.textContent = text;
  el.title = detail;
  el.hidden = false;
}

// ---- drawing ----

// row is a table row: the first value heads it, Nodes go in as they are.
function row(values, attrs) {
  const tr = document.createElement("tr");
  values.forEach((v, i) => {
    const cell = document.createElement(i === 0 ? "th" : "td");
    if (i === 0) cell.scope = "row";
    if (v instanceof Node) cell.append(v); else cell.textContent = v;
    tr.append(cell);
  });
  for (const [k, v] of Object.entries(attrs || {})) tr.dataset[k] = v;
  return tr;
}

function fill(sel, rows) {
  $(sel + " tbody").replaceChildren(...rows);
}

function dayCell(d) {
  const el = document.createElement("time");
  el.dateTime = d;
  el.textContent = dayLong(d);
  return el;
}

// exportLink is GET /api/calls's CSV of the report's calls (of one
// source), for a spreadsheet: semicolons for Excel in Russian. A link
// cannot send a header, so the token goes in the query.
function exportLink(s, source) {
  const q = new URLSearchParams({ format: "csv", from: s.from, to: s.to, direction: "inbound" });
  if (source !== undefined) q.set("source", source);
  if (lang === "ru") q.set("sep", "semicolon");
  q.set("token", session.token);
  return "/api/calls?" + q;
}

// tableLink is the summary's table as CSV
// (GET /api/reports/summary?format=csv&table=...).
function tableLink(s, table) {
  const q = new URLSearchParams({ format: "csv", table, from: s.from, to: s.to });
  if (lang === "ru") q.set("sep", "semicolon");
  q.set("token", session.token);
  const a = document.createElement("a");
  a.href = "/api/reports/summary?" + q;
  a.textContent = t("export");
  a.className = "export";
  a.dataset.table = table;
  return a;
}

function chart(id, config) {
  if (state.charts[id]) state.charts[id].destroy();
  const canvas = document.getElementById(id);
  const title = canvas.closest("article").querySelector("h2").textContent;
  canvas.setAttribute("aria-label", t("chartLabel", { title }));
  config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false }, config.options);
  state.charts[id] = new Chart(canvas, config);
}

function render() {
  const s = state.summary;
  if (!s) return;
  $("#figures").hidden = false;
  $("#period").textContent = t("period", { from: dayLong(s.from), to: dayLong(s.to), offset: s.utc_offset });
  $("#export").href = exportLink(s);
  const slHead = t("serviceLevel", { n: s.service_level.threshold_seconds });
  $("#h-sources-sl").textContent = slHead;
  $("#h-wait-sl").textContent = slHead;
  renderUnseen(s);
  renderTotals(s);
  renderComparison(s);
  renderSources(s);
  renderPurposes(s);
  renderCallbacks(s);
  renderOutcomes(s);
  renderHours(s);
  renderWait(s);
  renderOperators(s);
  document.querySelectorAll("[data-csv]").forEach((el) => el.replaceChildren(tableLink(s, el.dataset.csv)));
}

// renderUnseen says how long the daemon did not see the PBX in the range:
// the figures lack the calls that began and ended then. Each period's
// own words are on hover.
function renderUnseen(s) {
  const u = s.unseen, box = $("#unseen");
  box.hidden = !(u && u.seconds > 0);
  if (box.hidden) return;
  box.textContent = t("unseen", { time: dur(u.seconds), n: int(u.periods.length) });
  box.title = u.periods.map((p) => p.warning).join("\n");
}

// The headline figures, this period's and the previous one's: [key,
// label, this, previous, kind] with kind saying how to show them, and
// null for a figure over nothing (no calls, nobody called back).
function headline(s) {
  const p = s.previous;
  const over = (n, v) => (n ? v : null);
  const sl = (x) => over(x.service_level.calls, x.service_level.rate);
  return [
    ["calls", t("calls"), s.totals.total, p.totals.total, "int"],
    ["answered", t("answered"), s.totals.answered, p.totals.answered, "int"],
    ["lost", t("lost"), s.totals.lost, p.totals.lost, "int"],
    ["lostShare", t("lostShare"), over(s.totals.total, s.totals.lost_rate), over(p.totals.total, p.totals.lost_rate), "pct"],
    ["serviceLevel", t("serviceLevel", { n: s.service_level.threshold_seconds }), sl(s), sl(p), "pct"],
    ["distinctCallers", t("distinctCallers"), s.callers.distinct, p.callers.distinct, "int"],
    ["newNumbers", t("newNumbers"), s.callers.new, p.callers.new, "int"],
    ["waitAvg", t("waitAvg"), over(s.wait.answered, s.wait.avg_seconds), over(p.wait.answered, p.wait.avg_seconds), "secs"],
    ["callbackMedian", t("callbackMedian"), over(s.callbacks.called_back, s.callbacks.median_seconds),
      over(p.callbacks.called_back, p.callbacks.median_seconds), "dur"],
    ["neverCalledBack", t("neverCalledBack"), over(s.callbacks.missed, s.callbacks.never_share),
      over(p.callbacks.missed, p.callbacks.never_share), "pct"],
    ...uniquePurposes(s.purposes, p.purposes).map((name) => {
      const n = (l) => (l.find((x) => x.purpose === name) || { calls: 0 }).calls;
      return ["purpose_" + name, purposeName(name), n(s.purposes), n(p.purposes), "int"];
    }),
  ];
}

function uniquePurposes(...lists) {
  const out = [];
  for (const l of lists) for (const x of l) if (!out.includes(x.purpose)) out.push(x.purpose);
  return out;
}

// show formats a headline figure.
function show(v, kind) {
  if (v === null) return t("none");
  return { int, pct, secs, dur }[kind](v);
}

function renderTotals(s) {
  const p = s.previous;
  const sl = s.service_level, psl = p.service_level;
  const tiles = [
    ["calls", t("calls"), int(s.totals.total), int(p.totals.total)],
    ["answered", t("answered"), int(s.totals.answered) + " · " + maybe(s.totals.total, pct(s.shares.answered)), int(p.totals.answered)],
    ["lost", t("lost"), int(s.totals.lost) + " · " + maybe(s.totals.total, pct(s.totals.lost_rate)),
      int(p.totals.lost) + " · " + maybe(p.totals.total, pct(p.totals.lost_rate))],
    ["serviceLevel", t("serviceLevel", { n: sl.threshold_seconds }), maybe(sl.calls, pct(sl.rate)), maybe(psl.calls, pct(psl.rate))],
    ["distinctCallers", t("distinctCallers"), int(s.callers.distinct), int(p.callers.distinct)],
    ["newNumbers", t("newNumbers"), int(s.callers.new), int(p.callers.new)],
    ["waitAvg", t("waitAvg"), maybe(s.wait.answered, secs(s.wait.avg_seconds)), maybe(p.wait.answered, secs(p.wait.avg_seconds))],
    ["waitP90", t("waitP90"), maybe(s.wait.answered, secs(s.wait.p90_seconds)), maybe(p.wait.answered, secs(p.wait.p90_seconds))],
    ["callbackMedian", t("callbackMedian"), maybe(s.callbacks.called_back, dur(s.callbacks.median_seconds)),
      maybe(p.callbacks.called_back, dur(p.callbacks.median_seconds))],
    ["neverCalledBack", t("neverCalledBack"), int(s.callbacks.never) + " · " + maybe(s.callbacks.missed, pct(s.callbacks.never_share)),
      int(p.callbacks.never) + " · " + maybe(p.callbacks.missed, pct(p.callbacks.never_share))],
  ];
  $("#totals").replaceChildren(...tiles.map(([key, label, value, prev]) => {
    const div = document.createElement("div");
    div.dataset.tile = key;
    const dt = document.createElement("dt"); dt.textContent = label;
    const dd = document.createElement("dd"); dd.textContent = value;
    const was = document.createElement("small"); was.className = "prev"; was.textContent = t("previous", { v: prev });
    div.append(dt, dd, was);
    return div;
  }));
}

// renderComparison tabulates the headline figures against the previous
// period's, with the change in percent where both have a figure.
function renderComparison(s) {
  $("#h-comparison-this").textContent = t("thisPeriod", { from: dayLabel(s.from), to: dayLabel(s.to) });
  $("#h-comparison-prev").textContent = t("thisPeriod", { from: dayLabel(s.previous.from), to: dayLabel(s.previous.to) });
  fill("#table-comparison", headline(s).map(([key, label, a, b, kind]) => {
    let change = t("none");
    if (a === null || b === null) {
      // Nothing to compare.
    } else if (kind === "pct") {
      // Shares change by percentage points.
      const d = Math.round((a - b) * 1000) / 10;
      change = (d > 0 ? "+" : "") + new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(d) + (lang === "ru" ? " п.п." : " pp");
    } else if (b) {
      const d = Math.round((a - b) / b * 1000) / 10;
      change = (d > 0 ? "+" : "") + new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(d) + "%";
    }
    return row([label, show(a, kind), show(b, kind), change], { figure: key });
  }));
}

// renderPurposes: what the calls of each source became, by the purpose
// operators noted (service bookings, sales...), as counts and shares of
// the source's calls.
function renderPurposes(s) {
  const names = uniquePurposes(s.purposes);
  const srcs = s.sources.filter((src) => src.purposes.length);
  $("#purposes-none").hidden = names.length > 0;
  chart("chart-purposes", {
    type: "bar",
    data: {
      labels: srcs.map((src) => sourceName(src.source)),
      datasets: names.map((name, i) => ({
        label: purposeName(name), backgroundColor: PALETTE[i % PALETTE.length],
        data: srcs.map((src) => (src.purposes.find((x) => x.purpose === name) || { calls: 0 }).calls),
      })),
    },
    options: {
      indexAxis: "y",
      scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, y: { stacked: true } },
      plugins: { legend: { position: "bottom" } },
    },
  });
  document.getElementById("chart-purposes").parentElement.style.height = Math.max(160, 90 + 40 * srcs.length) + "px";
  const head = document.createElement("tr");
  for (const text of [t("source"), t("calls"), ...names.map(purposeName)]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = text;
    head.append(th);
  }
  $("#table-purposes thead").replaceChildren(head);
  fill("#table-purposes", s.sources.map((src) => row([sourceName(src.source), int(src.total), ...names.map((name) => {
    const x = src.purposes.find((p) => p.purpose === name);
    return x ? t("purposeCalls", { n: int(x.calls), p: pct(x.share) }) : "0";
  })], { source: src.source })));
}

function callbackCells(c) {
  return [int(c.missed), int(c.called_back), maybe(c.called_back, dur(c.median_seconds)),
    int(c.within_1h) + " · " + maybe(c.missed, pct(c.within_1h_share)),
    int(c.within_1d) + " · " + maybe(c.missed, pct(c.within_1d_share)),
    int(c.never) + " · " + maybe(c.missed, pct(c.never_share))];
}

// renderCallbacks: how soon the missed callers were called back, by
// source and in all.
function renderCallbacks(s) {
  fill("#table-callbacks", [
    ...s.sources.filter((src) => src.callbacks.missed).map((src) => row([sourceName(src.source), ...callbackCells(src.callbacks)], { source: src.source })),
    row([t("total"), ...callbackCells(s.callbacks)], { source: "*" }),
  ]);
}

function renderSources(s) {
  chart("chart-sources", {
    type: "bar",
    data: {
      labels: s.days.map((d) => dayLabel(d.date)),
      datasets: s.sources.map((src, i) => ({
        label: sourceName(src.source), data: src.days.map((d) => d.total), backgroundColor: PALETTE[i % PALETTE.length],
      })),
    },
    options: {
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: "bottom" } },
    },
  });
  fill("#table-sources", s.sources.map((src) => {
    const a = document.createElement("a");
    if (src.source) { a.href = exportLink(s, src.source); a.textContent = t("export"); }
    return row([sourceName(src.source), int(src.total), int(src.answered), int(src.missed), int(src.abandoned),
      int(src.busy), int(src.failed), pct(src.lost_rate), int(src.new_callers), int(src.callers.distinct),
      maybe(src.service_level.calls, pct(src.service_level.rate)), a], { source: src.source });
  }));
  // The chart's table: a row per day, a column per source, and the day's total.
  const head = document.createElement("tr");
  for (const text of [t("date"), ...s.sources.map((src) => sourceName(src.source)), t("total")]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = text;
    head.append(th);
  }
  $("#table-sources-days thead").replaceChildren(head);
  fill("#table-sources-days", s.days.map((d, i) =>
    row([dayCell(d.date), ...s.sources.map((src) => int(src.days[i].total)), int(d.total)], { date: d.date })));
}

function renderOutcomes(s) {
  chart("chart-outcomes", {
    type: "doughnut",
    data: {
      labels: OUTCOMES.map((o) => t(o.text)),
      datasets: [{ data: OUTCOMES.map((o) => s.totals[o.key]), backgroundColor: OUTCOMES.map((o) => o.color) }],
    },
    options: { plugins: { legend: { position: "right" } } },
  });
  fill("#table-outcomes", OUTCOMES.map((o) => row([t(o.text), int(s.totals[o.key]), pct(s.shares[o.key])], { outcome: o.key })));
}

function renderHours(s) {
  chart("chart-hours", {
    data: {
      labels: s.hours.map((h) => String(h.hour).padStart(2, "0")),
      datasets: [
        { type: "bar", label: t("lostShare"), data: s.hours.map((h) => h.lost_rate), backgroundColor: "#c4272b", yAxisID: "rate" },
        { type: "line", label: t("calls"), data: s.hours.map((h) => h.total), borderColor: "#0b5cad", backgroundColor: "#0b5cad", yAxisID: "calls" },
      ],
    },
    options: {
      scales: {
        rate: { position: "left", beginAtZero: true, suggestedMax: 1, ticks: { callback: (v) => pct(v) }, title: { display: true, text: t("lostRateAxis") } },
        calls: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { precision: 0 }, title: { display: true, text: t("callsAxis") } },
      },
      plugins: { tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + (c.dataset.yAxisID === "rate" ? pct(c.raw) : int(c.raw)) } } },
    },
  });
  fill("#table-hours", s.hours.map((h) =>
    row([String(h.hour).padStart(2, "0") + ":00", int(h.total), int(h.lost), pct(h.lost_rate)], { hour: h.hour })));
}

function renderWait(s) {
  chart("chart-wait", {
    type: "line",
    data: {
      labels: s.days.map((d) => dayLabel(d.date)),
      datasets: [
        // A day nobody was answered on has no wait: a gap, not a 0.
        { label: t("waitAvg"), data: s.days.map((d) => (d.wait.answered ? d.wait.avg_seconds : null)), borderColor: "#0b5cad", backgroundColor: "#0b5cad" },
        { label: t("waitP90"), data: s.days.map((d) => (d.wait.answered ? d.wait.p90_seconds : null)), borderColor: "#d97706", backgroundColor: "#d97706" },
      ],
    },
    options: {
      scales: { y: { beginAtZero: true, ticks: { callback: (v) => secs(v) } } },
      plugins: { tooltip: { callbacks: { label: (c) => c.dataset.label + ": " + secs(c.raw) } } },
    },
  });
  fill("#table-wait", s.days.map((d) =>
    row([dayCell(d.date), int(d.wait.answered), maybe(d.wait.answered, secs(d.wait.avg_seconds)),
      maybe(d.wait.answered, secs(d.wait.p90_seconds)), maybe(d.service_level.calls, pct(d.service_level.rate))], { date: d.date })));
}

function renderOperators(s) {
  chart("chart-operators", {
    type: "bar",
    data: {
      labels: s.operators.map(operatorName),
      datasets: [
        { label: t("answered"), data: s.operators.map((o) => o.calls_answered), backgroundColor: "#1a7f37" },
        { label: t("missedCalls"), data: s.operators.map((o) => o.missed_calls), backgroundColor: "#c4272b" },
        { label: t("takenByColleague"), data: s.operators.map((o) => o.taken_by_colleague), backgroundColor: "#9aa3b5" },
      ],
    },
    options: { indexAxis: "y", scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, y: { stacked: true } } },
  });
  // The chart grows with the operators, so each keeps a readable bar.
  document.getElementById("chart-operators").parentElement.style.height = Math.max(220, 60 + 42 * s.operators.length) + "px";
  fill("#table-operators", s.operators.map((o) =>
    row([operatorName(o), int(o.calls), int(o.calls_answered), int(o.taken_by_colleague), int(o.missed_calls),
      maybe(o.calls_answered + o.missed_calls, pct(o.answer_rate)), int(o.offered),
      maybe(o.answered, secs(o.ring_avg_seconds)), maybe(o.answered, secs(o.talk_avg_seconds))], { operator: o.operator })));
}

// ---- signing in ----

function applyLanguage() {
  applyTexts();
  render();
}

applyLanguage();
onLanguage(applyLanguage);
$("#range").onsubmit = (ev) => { ev.preventDefault(); load($("#from").value, $("#to").value); };
document.querySelectorAll("[data-days]").forEach((b) => {
  b.onclick = () => { const [from, to] = quickRange(b.dataset.days); load(from, to); };
});
const { signOut } = signing({
  key: "screenpop.staffToken",
  main: $("#report"),
  signedIn: () => {
    const q = new URLSearchParams(location.search);
    load(q.get("from"), q.get("to"));
  },
  signedOut: () => { state.summary = null; },
});
