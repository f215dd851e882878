// Notes, call purpose, leads and complaints on the pop: see screenpop/web/notes.go.
//
// Under every call card: the call's purpose and a note (also from each
// session row, through a dialog, since the pop goes when the call ends);
// on a lead, a form for the client's name and car; on each open complaint,
// a button to close it. The page redraws the cards on every message, so
// what the operator types lives in `drafts` and is put back on each redraw,
// with the focus and caret.
"use strict";

(() => {
  const SP = window.SP;
  const t = SP.t;

  SP.addText({
    ru: {
      purpose: "Цель звонка", choosePurpose: "— цель звонка —", note: "Заметка", save: "Сохранить", cancel: "Закрыть",
      saving: "Сохраняем…", saved: "Сохранено", needPurpose: "Выберите цель звонка",
      noteFor: "Заметка к звонку {caller}", noteAction: "Заметка", noteColumn: "Заметка", noClient: "без клиента",
      purpose_service_booking: "Запись на сервис", purpose_sales: "Покупка автомобиля", purpose_parts: "Запчасти",
      purpose_complaint: "Жалоба", purpose_other: "Другое",
      newLead: "Новый лид", leadDetails: "Данные клиента", lastName: "Фамилия", firstName: "Имя", patronymic: "Отчество",
      carMake: "Марка", carModel: "Модель", plate: "Госномер",
      openComplaints: "Открытые жалобы", resolution: "Как решили", closeComplaint: "Закрыть жалобу", closed: "Закрыта",
    },
    en: {
      purpose: "Purpose", choosePurpose: "— purpose of the call —", note: "Note", save: "Save", cancel: "Close",
      saving: "Saving…", saved: "Saved", needPurpose: "Choose the purpose of the call",
      noteFor: "Note on the call from {caller}", noteAction: "Note", noteColumn: "Note", noClient: "no client",
      purpose_service_booking: "Service booking", purpose_sales: "Car purchase", purpose_parts: "Parts",
      purpose_complaint: "Complaint", purpose_other: "Other",
      newLead: "New lead", leadDetails: "Client details", lastName: "Last name", firstName: "First name", patronymic: "Patronymic",
      carMake: "Make", carModel: "Model", plate: "Plate",
      openComplaints: "Open complaints", resolution: "How it was resolved", closeComplaint: "Close complaint", closed: "Closed",
    },
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
  const purposeText = (p) => (SP.TEXT.en["purpose_" + p] ? t("purpose_" + p) : p);

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
    return el("span", { class: "sp-status sp-" + (d.status || "idle"), text: statusText(d), role: "status" });
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
    const d = draft("note:" + call.call_id, () => ({ purpose: "", note: "", client_id: "" }));
    // The card may have been drawn before the lookup answered: the note
    // is about the client the card shows, the first unless one was picked.
    if (!clients.includes(d.client_id)) d.client_id = clients.length ? clients[0] : "";
    return d;
  }

  async function saveNote(call, d, redraw) {
    if (!d.purpose) {
      d.status = "error"; d.message = t("needPurpose");
      redraw();
      return;
    }
    d.status = "saving";
    redraw();
    try {
      const body = { purpose: d.purpose, note: d.note || "" };
      if (d.client_id) body.client_id = Number(d.client_id);
      await SP.api("POST", "/api/calls/" + encodeURIComponent(call.call_id) + "/note", body);
      d.status = "saved";
      keepDrafts();
    } catch (e) {
      d.status = "error"; d.message = e.message;
    }
    redraw();
  }

  function noteForm(call, redraw) {
    const key = "note:" + call.call_id;
    const d = noteDraft(call);
    const clients = (call.card && call.card.clients) || [];
    const form = el("form", { class: "sp-note", "data-call-id": call.call_id });
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
        noteForm(call, () => { draw(); SP.render(); }),
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
    SP.render();
    try {
      const body = { last_name: d.last_name, first_name: d.first_name, patronymic: d.patronymic };
      if (d.make || d.model || d.plate) body.car = { make: d.make, model: d.model, plate: d.plate };
      await SP.api("POST", "/api/clients/" + c.client_id, body);
      d.status = "saved";
    } catch (e) {
      d.status = "error"; d.message = e.message;
    }
    // The daemon redraws the pops of calls under way with the new name.
    SP.render();
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
    SP.render();
    try {
      await SP.api("POST", "/api/complaints/" + cp.complaint_id + "/close", { reason: d.reason || "" });
      d.status = "closed";
    } catch (e) {
      d.status = "error"; d.message = e.message;
    }
    SP.render();
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

  SP.onCall.push((article, call) => {
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
    if (purposes) article.append(noteForm(call, SP.render));
    restoreFocusAfterDraw();
  });

  SP.onHistory.push((row, call) => {
    const d = drafts.get("note:" + call.call_id);
    const cell = el("td", { class: "sp-note-cell" });
    if (purposes) {
      cell.append(el("button", { type: "button", class: "sp-note-open", text: t("noteAction"), onclick: () => openNoteDialog(call) }));
    }
    if (d && d.status === "saved") cell.append(el("span", { class: "sp-status sp-saved", text: "✓ " + purposeText(d.purpose) }));
    row.append(cell);
  });

  let asked = false;
  SP.onMessage.push((msg) => {
    if (msg.type !== "welcome" || asked) return;
    asked = true;
    SP.api("GET", "/api/purposes")
      .then((data) => { purposes = data; SP.render(); })
      .catch(() => { asked = false; }); // asked again on the next welcome
  });

  SP.onRender.push(() => {
    if (dialog.open) dialog.close(); // drawn in the old language
  });

  document.body.append(dialog);
  const head = document.querySelector("#history thead tr");
  if (head) head.append(el("th", { "data-i18n": "noteColumn", text: t("noteColumn") }));
})();
