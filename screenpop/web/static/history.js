// A client's call history on the pop: their last calls, in and out, with
// a call-back button on each (GET /api/clients/{id}/calls).
"use strict";
(() => {
  const SP = window.SP;
  const t = SP.t;
  SP.addText({
    ru: { history: "История звонков", historyEmpty: "Звонков ещё не было", in: "входящий", out: "исходящий",
      historyFailed: "Не удалось загрузить историю: {reason}" },
    en: { history: "Call history", historyEmpty: "No calls yet", in: "incoming", out: "outgoing",
      historyFailed: "Could not load the history: {reason}" },
  });
  // Open histories survive the page redrawing its cards.
  const open = new Map(); // client id -> calls, or null while loading

  function row(c) {
    const li = document.createElement("li");
    li.className = "history-call";
    li.dataset.callId = c.call_id;
    const when = new Date(c.started_at).toLocaleString(document.documentElement.lang);
    const what = [when, t(c.direction === "outbound" ? "out" : "in"), c.number, SP.lineName(c.did), t(c.status === "failed" ? "failed_status" : c.status)];
    if (c.answered_by) what.push(SP.opName(c.answered_by));
    const span = document.createElement("span");
    span.textContent = what.filter(Boolean).join(" · ");
    li.append(span);
    if (c.number && SP.dialButton) li.append(SP.dialButton(c.number));
    return li;
  }

  function fill(box, id) {
    box.replaceChildren();
    const calls = open.get(id);
    if (!calls) return;
    if (calls.error) {
      box.textContent = t("historyFailed", { reason: calls.error });
      return;
    }
    if (calls.length === 0) {
      box.textContent = t("historyEmpty");
      return;
    }
    const ul = document.createElement("ul");
    for (const c of calls) ul.append(row(c));
    box.append(ul);
  }

  async function load(id) {
    try {
      const d = await SP.api("GET", "/api/clients/" + id + "/calls");
      open.set(id, d.calls || []);
    } catch (e) {
      open.set(id, { error: e.message });
    }
    SP.render();
  }

  SP.onCall.push((article) => {
    for (const client of article.querySelectorAll(".client[data-client-id]")) {
      const id = client.dataset.clientId;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "history-btn";
      button.textContent = t("history");
      const box = document.createElement("div");
      box.className = "history";
      button.onclick = (ev) => {
        ev.stopPropagation();
        if (open.has(id)) open.delete(id); else { open.set(id, null); load(id); }
        SP.render();
      };
      client.append(button, box);
      fill(box, id);
    }
  });
})();
