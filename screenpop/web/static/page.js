// What every screenpop page shares: its texts in two languages, signing in
// with a key kept in this browser, the daemon's API and its error texts,
// and a live socket that notices a silent daemon. The pages import it as
// an ES module: no build step, served by the daemon as it is.

export const $ = (sel) => document.querySelector(sel);

// el makes an element with a class and a text.
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- texts ----

// The languages of the pages, in the order each text gives them.
const LANGS = ["ru", "en"];

// The texts every page uses, each as [Russian, English]; each page adds
// its own with addText. The error texts say what the daemon's answers
// mean, in the page's language: the daemon's own words (English) are
// kept only as a detail on hover.
const TEXT = {
  signin: ["Войти", "Sign in"], logout: ["Выйти", "Sign out"], online: ["на связи", "online"], offline: ["нет связи", "offline"],
  networkError: ["нет связи с сервером", "no connection to the server"],
  err400: ["сервер не принял запрос", "the server did not accept the request"], err401: ["неверный ключ", "wrong key"], err403: ["этому ключу это недоступно", "this key may not do this"],
  err404: ["не найдено", "not found"], err409: ["уже изменено кем-то другим", "already changed by someone else"], err413: ["слишком много текста", "too much text"],
  err429: ["слишком много неверных ключей с этого адреса: подождите и попробуйте снова", "too many wrong keys from this address: wait and try again"],
  err502: ["АТС не выполнила запрос", "the PBX did not carry out the request"], err503: ["сервер сейчас не может ответить, попробуйте ещё раз через несколько секунд", "the server cannot answer now; try again in a few seconds"],
  err_key_unchecked: ["ключ сейчас не проверить: база данных не отвечает; страница попробует снова", "the key cannot be checked now: the database does not answer; the page tries again"],
  serverError: ["сервер не смог ответить ({status}), попробуйте ещё раз", "the server could not answer ({status}); try again"], requestFailed: ["запрос не выполнен ({status})", "the request failed ({status})"],
};

export let lang = localStorage.getItem("screenpop.lang") || (navigator.language || "ru").slice(0, 2);
if (!LANGS.includes(lang)) lang = "ru";

// addText adds a page's texts: {key: [Russian, English]}.
export function addText(texts) { Object.assign(TEXT, texts); }

// t is the text for key in the page's language, with {name} filled from vars.
export function t(key, vars) {
  let s = (TEXT[key] && TEXT[key][LANGS.indexOf(lang)]) || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.replace("{" + k + "}", v);
  return s;
}

// hasText reports whether key has a text (the page knows what it means).
export const hasText = (key) => Object.hasOwn(TEXT, key);

// applyTexts puts the texts into the elements that name them (data-i18n)
// and offers the other language on the #lang button.
export function applyTexts() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
  $("#lang").textContent = lang === "ru" ? "EN" : "RU";
}

// onLanguage makes the #lang button switch the language, remembered in
// this browser, and call redraw after.
export function onLanguage(redraw) {
  $("#lang").onclick = () => {
    lang = lang === "ru" ? "en" : "ru";
    localStorage.setItem("screenpop.lang", lang);
    redraw();
  };
}

// ---- the API ----

// session is the signed-in page's key.
export const session = { token: null };

// ApiError is an API call that failed: message is for the page to show;
// status the HTTP status (0: no answer); detail the daemon's own words;
// data its whole answer.
export class ApiError extends Error {
  constructor(message, status, detail, data) {
    super(message);
    this.status = status;
    this.detail = detail || "";
    this.data = data;
  }
}

// api calls the daemon's API with the page's key. A failure is an
// ApiError with a text in the page's language: texts names the page's
// own text for a status where the page knows what it means for this call
// ({404: "noCallback"}, or a function of the answer); otherwise the
// status's general text.
export async function api(method, path, body, texts) {
  let resp;
  try {
    resp = await fetch(path, {
      method,
      cache: "no-store",
      headers: { "Authorization": "Bearer " + session.token, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    // The browser's own words ("Failed to fetch") are in its language, not the page's.
    throw new ApiError(t("networkError"), 0, e.message);
  }
  let data = null;
  try { data = await resp.json(); } catch (e) { /* empty body, or not JSON (a proxy's page) */ }
  if (resp.ok) return data;
  const detail = (data && data.error) || (resp.status + " " + resp.statusText).trim();
  throw new ApiError(statusText(resp.status, data, texts), resp.status, detail, data);
}

function statusText(status, data, texts) {
  const own = texts && texts[status];
  if (typeof own === "function") return own(data || {});
  if (own) return t(own);
  // A code the daemon gives says more than the status.
  if (data && data.code && hasText("err_" + data.code)) return t("err_" + data.code);
  if (hasText("err" + status)) return t("err" + status);
  return t(status >= 500 ? "serverError" : "requestFailed", { status });
}

// ---- signing in ----

// tokenFromLink is the key a link carries in its fragment (from
// `screenpopd demo` or an admin), which browsers never send to the
// server; it takes it out of the address bar.
export function tokenFromLink() {
  const m = location.hash.match(/token=([^&]+)/);
  if (!m) return null;
  history.replaceState(null, "", location.pathname + location.search);
  return decodeURIComponent(m[1]);
}

// signing runs the page's sign-in form (#login, #token, #login-error)
// and #logout. The key is kept in this browser under key; main is the
// page's body, shown while signed in. signedIn starts the page's work;
// signedOut stops it. It signs in with the link's key or the kept one.
export function signing({ key, main, signedIn, signedOut }) {
  function signIn(token) {
    session.token = token;
    localStorage.setItem(key, token);
    $("#login").hidden = true;
    $("#login-error").hidden = true;
    main.hidden = false;
    $("#logout").hidden = false;
    signedIn(token);
  }
  // signOut shows the sign-in form with reason; forget drops the kept
  // key (an unknown one), else it stays for the pages it opens.
  function signOut(reason, forget = true) {
    session.token = null;
    if (forget) localStorage.removeItem(key);
    if (signedOut) signedOut();
    $("#token").value = "";
    main.hidden = true;
    $("#logout").hidden = true;
    $("#login").hidden = false;
    const err = $("#login-error");
    err.hidden = !reason;
    err.textContent = reason || "";
  }
  $("#login").onsubmit = (ev) => {
    ev.preventDefault();
    const token = $("#token").value.trim();
    if (token) signIn(token);
  };
  $("#logout").onclick = () => signOut("");
  const token = tokenFromLink() || localStorage.getItem(key);
  if (token) signIn(token); else $("#login").hidden = false;
  return { signIn, signOut };
}

// ---- the live socket ----

export const MESSAGE_VERSION = 1;

// live keeps a websocket to path open while the page is signed in. It
// sends hello() on opening, hands each message to onMessage and says
// whether the daemon is heard through online(bool). A daemon silent for
// silenceMs (it sends a heartbeat more often) is taken as gone: a hung
// daemon keeps the socket open. A close with 1008 (the key is refused)
// goes to refused(event); anything else, 1013 included (the key could
// not be checked now), is tried again, waiting longer each time.
export function live({ path, hello, onMessage, online, refused, silenceMs }) {
  const s = { ws: null, retry: 0, watchdog: null, up: false };
  const setUp = (on) => { s.up = on; online(on); };
  function later() {
    const wait = Math.min(10000, 500 * 2 ** s.retry++) * (0.5 + Math.random() / 2);
    setTimeout(() => { if (session.token && !s.ws) connect(); }, wait);
  }
  function arm(ws) {
    clearTimeout(s.watchdog);
    s.watchdog = setTimeout(() => {
      if (s.ws !== ws) return;
      ws.onclose = null; ws.onmessage = null;
      ws.close();
      s.ws = null;
      setUp(false);
      later();
    }, silenceMs);
  }
  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(proto + "//" + location.host + path);
    s.ws = ws;
    arm(ws);
    ws.onopen = () => ws.send(JSON.stringify(hello()));
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.v !== MESSAGE_VERSION) { location.reload(); return; } // an upgraded daemon
      s.retry = 0;
      arm(ws);
      setUp(true);
      onMessage(msg);
    };
    ws.onclose = (ev) => {
      clearTimeout(s.watchdog);
      s.ws = null;
      setUp(false);
      if (ev.code === 1008) { refused(ev); return; }
      later();
    };
  }
  return {
    connect,
    get online() { return s.up; },
    close() {
      clearTimeout(s.watchdog);
      if (s.ws) { s.ws.onclose = null; s.ws.onmessage = null; s.ws.close(); s.ws = null; }
      setUp(false);
    },
  };
}

// showOnline shows on #conn whether the daemon is heard.
export function showOnline(on) {
  const c = $("#conn");
  c.className = "conn " + (on ? "on" : "off");
  c.textContent = t(on ? "online" : "offline");
}
