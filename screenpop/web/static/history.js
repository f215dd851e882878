// A client's call history on the pop: their last calls, in and out, with
// a call-back button on each (GET /api/clients/{id}/calls).
import { t, addText, api } from "./page.js";
import { onCall, render, lineName, opName } from "./app.js";
import { dialButton } from "./dial.js";

addText({
  history: ["История звонков", "Call history"], historyEmpty: ["Звонков ещё не было", "No calls yet"],
  in: ["входящий", "incoming"], out: ["исходящий", "outgoing"],
  historyFailed: ["Не удалось загрузить историю: {reason}", "Could not load the history: {reason}"],
});
// Open histories survive the page redrawing its cards.
const open = new Map(); // client id -> calls, or null while loading

function row(c) {
  const li = document.createElement("li");
  li.className = "history-call";
  li.dataset.callId = c.call_id;
  const when = new Date(c.started_at).toLocaleString(document.documentElement.lang);
  const what = [when, t(c.direction === "outbound" ? "out" : "in"), c.number, lineName(c.did), t(c.status === "failed" ? "failed_status" : c.status)];
  if (c.answered_by) what.push(opName(c.answered_by));
  const span = document.createElement("span");
  span.textContent = what.filter(Boolean).join(" · ");
  li.append(span);
  if (c.number) li.append(dialButton(c.number));
  return li;
}

function fill(box, id) {
  box.replaceChildren();
  const calls = open.get(id);
  if (!calls) return;
  if (calls.error) {
    box.textContent = t("historyFailed", { reason: calls.error });
    box.title = calls.detail || "";
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
    const d = await api("GET", "/api/clients/" + id + "/calls", undefined, { 404: "notYourClient" });
    open.set(id, d.calls || []);
  } catch (e) {
    open.set(id, { error: e.message, detail: e.detail });
  }
  render();
}

onCall.push((article) => {
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
      render();
    };
    client.append(button, box);
    fill(box, id);
  }
});
