// Notes, call purpose, leads and complaints on the pop: see screenpop/web/notes.go.
//
// Under every call card: the call's purpose and a note (also from each
// session row, through a dialog, since the pop goes when the call ends);
// on a lead, a form for the client's name and car; on each open complaint,
// a button to close it. The page redraws the cards on every message, so
// what the operator types lives in `drafts` and is put back on each redraw,
// with the focus and caret.
import { t, addText, hasText, api } from "./page.js";
import { onCall, onHistory, onMessage, onRender, render, callKey } from "./app.js";

addText({
  purpose: ["Цель звонка", "Purpose"], choosePurpose: ["— цель звонка —", "— purpose of the call —"], note: ["Заметка", "Note"], save: ["Сохранить", "Save"], cancel: ["Закрыть", "Close"],
  saving: ["Сохраняем…", "Saving…"], saved: ["Сохранено", "Saved"], needPurpose: ["Выберите цель звонка", "Choose the purpose of the call"],
  noteFor: ["Заметка к звонку {caller}", "Note on the call from {caller}"], noteAction: ["Заметка", "Note"], noteColumn: ["Заметка", "Note"], noClient: ["без клиента", "no client"],
  purpose_service_booking: ["Запись на сервис", "Service booking"], purpose_sales: ["Покупка автомобиля", "Car purchase"], purpose_parts: ["Запчасти", "Parts"],
  purpose_complaint: ["Жалоба", "Complaint"], purpose_other: ["Другое", "Other"],
  newLead: ["Новый лид", "New lead"], leadDetails: ["Данные клиента", "Client details"], lastName: ["Фамилия", "Last name"], firstName: ["Имя", "First name"], patronymic: ["Отчество", "Patronymic"],
  carMake: ["Марка", "Make"], carModel: ["Модель", "Model"], plate: ["Госномер", "Plate"],
  openComplaints: ["Открытые жалобы", "Open complaints"], resolution: ["Как решили", "How it was resolved"], closeComplaint: ["Закрыть жалобу", "Close complaint"], closed: ["Закрыта", "Closed"],
  noteRejected: ["Заметка не сохранена: выберите цель звонка и уложитесь в 2000 знаков", "The note was not saved: choose the call's purpose and keep within 2,000 characters"],
  notYourCall: ["Этого звонка нет среди ваших: заметку пишет тот, кому он звонил", "This call is not among yours: a note is written by the operator it rang"],
  leadRejected: ["Введите имя клиента или его машину: имя — до 100 знаков, марка, модель и номер — до 60", "Type the client's name or their car: a name takes up to 100 characters, make, model and plate up to 60"],
  notLead: ["Данные этого клиента берутся из базы клиентов: здесь их не изменить", "This client's details come from the client base: they cannot be changed here"],
  resolutionRejected: ["Опишите, как решили жалобу (до 1000 знаков)", "Say how the complaint was resolved (up to 1,000 characters)"], complaintClosed: ["Жалоба уже закрыта", "The complaint is already closed"],
});

// The purposes the daemon is configured with; null until the page has
// signed in and asked.
let purposes = null;
// What the operator typed, by form: "note:CALL", "lead:CLIENT",
// "complaint:ID". Each has its fields and a status: "", "saving",
// "saved", "error" (with message), "closed".
const drafts = new Map();
const draft = (key, init) => {
  if (!drafts.has(key)) drafts.set(key, Object.assign({ status: "", message: "" }, init()));
  return drafts.get(key);
};

// Unsaved notes outlive a reload: they are kept in this browser for a
// day, and dropped once saved.
const DRAFTS_KEY = "screenpop.drafts", DRAFT_DAYS_MS = 24 * 3600 * 1000;
try {
  const kept = JSON.parse(localStorage.getItem(DRAFTS_KEY) || "{}");
  for (const [key, d] of Object.entries(kept)) {
    if (key.startsWith("note:") && Date.now() - d.at < DRAFT_DAYS_MS) {
      drafts.set(key, { status: "", message: "", purpose: d.purpose || "", note: d.note || "", client_id: d.client_id || "" });
    }
  }
} catch (e) { /* a damaged entry: nothing to restore */ }
function keepDrafts() {
  const kept = {};
  for (const [key, d] of drafts) {
    if (key.startsWith("note:") && d.status !== "saved" && (d.note || d.purpose)) {
      kept[key] = { purpose: d.purpose, note: d.note, client_id: d.client_id, at: d.at || Date.now() };
    }
  }
  try { localStorage.setItem(DRAFTS_KEY, JSON.stringify(kept)); } catch (e) { /* storage full or off: drafts stay in the page */ }
}

// The default purposes have texts; a dealership's own show as they are.
const purposeText = (p) => (hasText("purpose_" + p) ? t("purpose_" + p) : p);

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function statusText(d) {
  switch (d.status) {
    case "saving": return t("saving");
    case "saved": return t("saved");
    case "closed": return t("closed");
    case "error": return d.message;
  }
  return "";
}

function statusEl(d) {
  // The daemon's own words, if any, are a detail on hover.
  return el("span", { class: "sp-status sp-" + (d.status || "idle"), text: statusText(d), role: "status",
    title: d.status === "error" ? d.detail || "" : "" });
}

// A field bound to a draft: typing keeps the draft, and a saved form
// that is edited again is no longer "saved".
function bind(input, key, d, name, onEdit) {
  input.name = name;
  input.dataset.draft = key;
  input.value = d[name] == null ? "" : String(d[name]);
  const keep = () => {
    d[name] = input.value;
    d.at = Date.now();
    keepDrafts();
    if (d.status === "saved" || d.status === "error") {
      d.status = "";
      if (onEdit) onEdit();
    }
  };
  input.addEventListener("input", keep);
  input.addEventListener("change", keep);
  return input;
}

// ---- the focus across redraws ----

let focused = null; // {el, key, name}
document.addEventListener("focusin", (e) => {
  const f = e.target;
  if (f.dataset && f.dataset.draft) focused = { el: f, key: f.dataset.draft, name: f.name };
});
document.addEventListener("focusout", (e) => {
  const f = e.target;
  // A field the operator left is still in the page; one a redraw
  // replaced is not, and its replacement takes the focus back.
  setTimeout(() => { if (focused && focused.el === f && f.isConnected) focused = null; }, 0);
});
let restoring = false;
function restoreFocusAfterDraw() {
  if (restoring) return;
  restoring = true;
  queueMicrotask(() => {
    restoring = false;
    if (!focused || focused.el.isConnected) return;
    const sel = `[data-draft="${CSS.escape(focused.key)}"][name="${CSS.escape(focused.name)}"]`;
    const next = document.querySelector(sel);
    if (!next) return;
    let start = null, end = null;
    try { start = focused.el.selectionStart; end = focused.el.selectionEnd; } catch (e) { /* a select has none */ }
    focused.el = next;
    next.focus();
    if (start !== null) try { next.setSelectionRange(start, end); } catch (e) { /* not a text field */ }
  });
}

// ---- the call's purpose and note ----

function noteDraft(call) {
  const clients = ((call.card && call.card.clients) || []).map((c) => String(c.client_id));
  const d = draft("note:" + callKey(call), () => ({ purpose: "", note: "", client_id: "" }));
  // The card may have been drawn before the lookup answered: the note
  // is about the client the card shows, the first unless one was picked.
  if (!clients.includes(d.client_id)) d.client_id = clients.length ? clients[0] : "";
  return d;
}

async function saveNote(call, d, redraw) {
  if (!d.purpose) {
    d.status = "error"; d.message = t("needPurpose"); d.detail = "";
    redraw();
    return;
  }
  d.status = "saving";
  redraw();
  try {
    const body = { purpose: d.purpose, note: d.note || "" };
    if (d.client_id) body.client_id = Number(d.client_id);
    await api("POST", "/api/calls/" + encodeURIComponent(call.call_id) + "/note" + (call.pbx ? "?pbx=" + encodeURIComponent(call.pbx) : ""), body, { 400: "noteRejected", 404: "notYourCall" });
    d.status = "saved";
    keepDrafts();
  } catch (e) {
    d.status = "error"; d.message = e.message; d.detail = e.detail;
  }
  redraw();
}

function noteForm(call, redraw) {
  const key = "note:" + callKey(call);
  const d = noteDraft(call);
  const clients = (call.card && call.card.clients) || [];
  const form = el("form", { class: "sp-note", "data-call-id": callKey(call) });
  const status = statusEl(d);
  const onEdit = () => { status.textContent = ""; status.className = "sp-status sp-idle"; };
  if (clients.length > 1) {
    const pick = el("select", { title: t("client") });
    for (const c of clients) pick.append(el("option", { value: String(c.client_id), text: c.full_name || t("newLead") }));
    form.append(bind(pick, key, d, "client_id", onEdit));
  }
  const purpose = el("select", { title: t("purpose") }, el("option", { value: "", text: t("choosePurpose") }));
  for (const p of purposes.purposes) purpose.append(el("option", { value: p, text: purposeText(p) }));
  const text = el("textarea", { rows: 2, placeholder: t("note"), maxLength: 2000 });
  form.append(
    bind(purpose, key, d, "purpose", onEdit),
    bind(text, key, d, "note", onEdit),
    el("button", { type: "submit", text: t("save"), disabled: d.status === "saving" }),
    status,
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    // What is on the screen is what is saved.
    d.purpose = purpose.value; d.note = text.value;
    saveNote(call, d, redraw);
  });
  return form;
}

// The dialog for noting a call from the session list: it lives outside
// what the page redraws.
const dialog = el("dialog", { id: "sp-note-dialog", class: "sp-dialog" });
function openNoteDialog(call) {
  const draw = () => {
    dialog.replaceChildren(
      el("h3", { text: t("noteFor", { caller: call.caller || t("withheld") }) }),
      noteForm(call, () => { draw(); render(); }),
      el("button", { type: "button", class: "sp-dialog-close", text: t("cancel"), onclick: () => dialog.close() }),
    );
  };
  draw();
  if (!dialog.open) dialog.showModal();
}

// ---- leads ----

function leadDraft(c) {
  const car = (c.cars && c.cars[0]) || {};
  return draft("lead:" + c.client_id, () => ({
    last_name: c.last_name || "", first_name: c.first_name || "", patronymic: c.patronymic || "",
    make: car.make || "", model: car.model || "", plate: car.plate || "",
  }));
}

async function saveLead(c, d) {
  d.status = "saving";
  render();
  try {
    const body = { last_name: d.last_name, first_name: d.first_name, patronymic: d.patronymic };
    if (d.make || d.model || d.plate) body.car = { make: d.make, model: d.model, plate: d.plate };
    await api("POST", "/api/clients/" + c.client_id, body, { 400: "leadRejected", 404: "notYourClient", 409: "notLead" });
    d.status = "saved";
  } catch (e) {
    d.status = "error"; d.message = e.message; d.detail = e.detail;
  }
  // The daemon redraws the pops of calls under way with the new name.
  render();
}

function leadForm(c) {
  const key = "lead:" + c.client_id;
  const d = leadDraft(c);
  const named = Boolean(c.last_name || c.first_name || c.patronymic);
  const form = el("form", { class: "sp-lead-form" });
  const status = statusEl(d);
  const onEdit = () => { status.textContent = ""; status.className = "sp-status sp-idle"; };
  const field = (name, label) => el("label", {}, el("span", { text: t(label) }), bind(el("input", { type: "text", maxLength: 100 }), key, d, name, onEdit));
  form.append(
    el("div", { class: "sp-row" }, field("last_name", "lastName"), field("first_name", "firstName"), field("patronymic", "patronymic")),
    el("div", { class: "sp-row" }, field("make", "carMake"), field("model", "carModel"), field("plate", "plate")),
    el("div", { class: "sp-row" }, el("button", { type: "submit", text: t("save"), disabled: d.status === "saving" }), status),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    for (const f of form.querySelectorAll("input")) d[f.name] = f.value;
    saveLead(c, d);
  });
  // Open while the lead has no name, or the operator is at it.
  const box = el("details", { class: "sp-lead", open: !named || d.status !== "" || (focused && focused.key === key) },
    el("summary", { text: t("leadDetails") }), form);
  box.addEventListener("toggle", () => { d.open = box.open; });
  if (d.open !== undefined) box.open = d.open;
  return box;
}

// ---- complaints ----

async function closeComplaint(cp, d) {
  d.status = "saving";
  render();
  try {
    await api("POST", "/api/complaints/" + cp.complaint_id + "/close", { reason: d.reason || "" },
      { 400: "resolutionRejected", 404: "notYourClient", 409: "complaintClosed" });
    d.status = "closed";
  } catch (e) {
    d.status = "error"; d.message = e.message; d.detail = e.detail;
  }
  render();
}

function complaintList(c) {
  const list = el("ul", { class: "sp-complaints" });
  for (const cp of c.open_complaint_list || []) {
    const key = "complaint:" + cp.complaint_id;
    const d = draft(key, () => ({ reason: "" }));
    const li = el("li", { "data-complaint-id": String(cp.complaint_id), class: d.status === "closed" ? "sp-closed" : "" },
      el("span", { class: "sp-complaint-text", text: [new Date(cp.opened_at).toLocaleDateString(document.documentElement.lang), cp.summary].join(" · ") }));
    if (d.status !== "closed") {
      const status = statusEl(d);
      const reason = bind(el("input", { type: "text", placeholder: t("resolution"), maxLength: 1000 }), key, d, "reason",
        () => { status.textContent = ""; });
      li.append(reason, el("button", {
        type: "button", class: "sp-close-complaint", text: t("closeComplaint"), disabled: d.status === "saving",
        onclick: () => { d.reason = reason.value; closeComplaint(cp, d); },
      }), status);
    } else {
      li.append(statusEl(d));
    }
    list.append(li);
  }
  return list.children.length ? el("div", { class: "sp-open-complaints" }, el("h4", { text: t("openComplaints") }), list) : null;
}

// ---- hooks ----

onCall.push((article, call) => {
  const clients = (call.card && call.card.clients) || [];
  for (const c of clients) {
    const box = article.querySelector(`.client[data-client-id="${c.client_id}"]`);
    if (!box) continue;
    if (c.lead) {
      const greeting = box.querySelector(".greeting");
      if (!greeting.textContent) {
        greeting.textContent = t("newLead");
        greeting.classList.add("sp-new-lead");
      }
      box.append(leadForm(c));
    }
    const complaints = complaintList(c);
    if (complaints) box.append(complaints);
  }
  if (purposes) article.append(noteForm(call, render));
  restoreFocusAfterDraw();
});

onHistory.push((row, call) => {
  const d = drafts.get("note:" + callKey(call));
  const cell = el("td", { class: "sp-note-cell" });
  if (purposes) {
    cell.append(el("button", { type: "button", class: "sp-note-open", text: t("noteAction"), onclick: () => openNoteDialog(call) }));
  }
  if (d && d.status === "saved") cell.append(el("span", { class: "sp-status sp-saved", text: "✓ " + purposeText(d.purpose) }));
  row.append(cell);
});

let asked = false;
onMessage.push((msg) => {
  if (msg.type !== "welcome" || asked) return;
  asked = true;
  api("GET", "/api/purposes")
    .then((data) => { purposes = data; render(); })
    .catch(() => { asked = false; }); // asked again on the next welcome
});

onRender.push(() => {
  if (dialog.open) dialog.close(); // drawn in the old language
});

document.body.append(dialog);
const head = document.querySelector("#history thead tr");
if (head) head.append(el("th", { "data-i18n": "noteColumn", text: t("noteColumn") }));
