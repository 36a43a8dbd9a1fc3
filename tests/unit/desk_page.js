// Runs the desk page's script (desk/static/app.js) on a small stand-in of the DOM, for
// tests/unit/test_desk_page_script.py: node desk_page.js <app.js>, with on stdin
// {"page": <the served page as a tree>, "lang": "zh"|"en", "routes": {"GET /path": reply
// or [replies...]}, "steps": [...]}. A reply is {"status", "body"}; a list is answered in
// order, its last reply again after that; a request no route names gets 404. A reply read
// as a blob (a recording) is {"blob": body}. The agent's WebSocket, fetch, JsSIP, blob:
// URLs and the clock are fakes the steps drive:
//   {"ws": message}           the open socket delivers a message
//   {"ws_close": true}        the socket drops (the page reconnects after its backoff)
//   {"advance": ms}           the clock moves on, running the timers that fall due
//   {"click": action}         a click on [data-action=action] ({"data_key": "5"}: the keypad's 5)
//   {"key": "F6"}             a key press
//   {"value": {id: text}}     an input's value; {"checked": {id: bool}} a checkbox
//   {"type": {id: text}}      the agent types: the value, then the element's input event
//   {"click_on": [attr, value]} a click on the element whose attr is value
//   {"sip": "registered" | "registrationFailed" | "incoming" | "confirmed" | "track" | "ended" | "failed"}
// After the script starts and after each step, the page and what the fakes saw are written
// to stdout as JSON: [{"page", "fetches", "sip", "sockets", "replaced", "urls"}...], fetches
// and sip calls since the previous entry; urls: the blob: URLs made and revoked so far. Only what the page uses is stood in for: no layout, no CSS.
"use strict";
const fs = require("fs");
const vm = require("vm");

const { Node, Text, Element, build } = require("./stand_in_dom.js");

function dump(node) {
  if (node instanceof Text) return node.data;
  const out = { tag: node.tagName.toLowerCase(), attrs: { ...node.attributes }, hidden: node.hidden,
    disabled: node.disabled, children: node.children.map(dump) };
  if (["INPUT", "TEXTAREA", "SELECT"].includes(node.tagName)) {
    Object.assign(out, { value: node.value, checked: node.checked });
  }
  if (node.srcObject !== null) out.srcObject = node.srcObject;
  return out;
}

const input = JSON.parse(fs.readFileSync(0, "utf-8"));
const root = build(input.page);
const store = { "hl-lang": input.lang || "zh" };

// --- the clock and its timers ---
let clock = 1_800_000_000_000;
let timers = [];
let timerSeq = 0;
const schedule = (fn, ms, every) => {
  timers.push({ id: ++timerSeq, at: clock + (ms || 0), fn, every });
  return timerSeq;
};
function advance(ms) {
  const until = clock + ms;
  for (;;) {
    const due = timers.filter((x) => x.at <= until).sort((a, b) => a.at - b.at || a.id - b.id)[0];
    if (!due) break;
    clock = Math.max(clock, due.at);
    if (due.every) due.at += due.every; else timers = timers.filter((x) => x !== due);
    due.fn();
  }
  clock = until;
}
class FakeDate extends Date {
  constructor(...args) { super(...(args.length ? args : [clock])); }
  static now() { return clock; }
}

// --- the network ---
const fetches = [];
const routes = input.routes || {};
const served = {};
function reply(key) {
  const replies = routes[key];
  if (replies === undefined) return { status: 404, body: { error: { code: "not_found", message: "no route " + key } } };
  if (!Array.isArray(replies)) return replies;
  const n = served[key] = (served[key] || 0) + 1;
  return replies[Math.min(n, replies.length) - 1];
}
function fetch(url, init) {
  const method = (init && init.method) || "GET";
  fetches.push({ method, url, authorization: init && init.headers && init.headers.Authorization,
    body: init && init.body !== undefined ? JSON.parse(init.body) : null });
  const answer = reply(method + " " + url);
  return Promise.resolve({ ok: answer.status < 400, status: answer.status,
    json: () => (answer.body === undefined ? Promise.reject(new Error("no body")) : Promise.resolve(answer.body)),
    blob: () => Promise.resolve({ blob: answer.body }) });
}
const urls = { made: [], revoked: [] };
const URL = {
  createObjectURL: (blob) => {
    const url = "blob:http://127.0.0.1:8080/" + (urls.made.length + 1);
    urls.made.push({ url, blob: blob.blob });
    return url;
  },
  revokeObjectURL: (url) => { urls.revoked.push(url); },
};
const sockets = [];
class WebSocket {
  constructor(url) { this.url = url; this.opened = false; this.closed = false; sockets.push(this); }
  send() {}
  close() { this.drop(); }
  drop() { if (!this.closed) { this.closed = true; if (this.onclose) this.onclose({ code: 1006 }); } }
}
const live = () => sockets.filter((s) => s.opened && !s.closed).pop();

// --- JsSIP ---
const sip = [];
const uas = [];
let session = null;
class Emitter {
  constructor() { this.handlers = {}; }
  on(type, fn) { (this.handlers[type] = this.handlers[type] || []).push(fn); }
  addEventListener(type, fn) { this.on(type, fn); }
  emit(type, event) { for (const fn of this.handlers[type] || []) fn(event); }
}
class Session extends Emitter {
  constructor() { super(); this.connection = new Emitter(); }
  answer(options) { sip.push(["answer", options]); }
  terminate(options) { sip.push(["terminate", options || null]); }
  mute(options) { sip.push(["mute", options]); }
  unmute(options) { sip.push(["unmute", options]); }
  hold() { sip.push(["hold"]); }
  unhold() { sip.push(["unhold"]); }
  sendDTMF(key) { sip.push(["dtmf", key]); }
}
const JsSIP = {
  WebSocketInterface: class { constructor(url) { this.url = url; } },
  UA: class extends Emitter {
    constructor(cfg) {
      super();
      sip.push(["ua", { ws_url: cfg.sockets[0].url, uri: cfg.uri, authorization_user: cfg.authorization_user,
        password: cfg.password, display_name: cfg.display_name, register: cfg.register }]);
      uas.push(this);
    }
    start() { sip.push(["start"]); }
    stop() { sip.push(["stop"]); }
  },
};
function sipStep(what) {
  const ua = uas[0];
  if (what === "incoming") { session = new Session(); ua.emit("newRTCSession", { originator: "remote", session }); }
  else if (what === "confirmed" || what === "ended" || what === "failed") session.emit(what, {});
  else if (what === "track") session.connection.emit("track", { streams: ["remote-stream"] });
  else ua.emit(what, { cause: "Rejected" });
}

const listeners = {};
const replaced = [];
const document = {
  documentElement: root,
  title: "",
  getElementById: (id) => root.querySelectorAll("").find((e) => e.id === id) || null,
  querySelectorAll: (selector) => root.querySelectorAll(selector),
  createElement: (tag) => new Element(tag),
  addEventListener: (type, fn) => { (listeners[type] = listeners[type] || []).push(fn); },
};
const context = {
  document, URLSearchParams, Intl, JSON, Object, Number, String, Array, Math, Set, Promise, Node, console,
  Date: FakeDate, fetch, WebSocket, JsSIP, URL,
  location: { search: "?token=t0k-1001", pathname: "/desk", hash: "", host: "127.0.0.1:8080", protocol: "http:" },
  history: { replaceState: (_, __, url) => replaced.push(url) },
  localStorage: { getItem: (k) => (k in store ? store[k] : null), setItem: (k, v) => { store[k] = String(v); } },
  setTimeout: (fn, ms) => schedule(fn, ms),
  setInterval: (fn, ms) => schedule(fn, ms, ms),
  clearTimeout: (id) => { timers = timers.filter((x) => x.id !== id); },
  addEventListener: () => {},
};
context.window = context;

const settle = async () => { // let the page's promise chains run, opening any new socket
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    for (const s of sockets) if (!s.opened && !s.closed) { s.opened = true; if (s.onopen) s.onopen({}); }
  }
};
let fetchesSeen = 0, sipSeen = 0;
function entry() {
  const out = { page: dump(root), fetches: fetches.slice(fetchesSeen), sip: sip.slice(sipSeen),
    sockets: sockets.map((s) => s.url), replaced, urls: { made: [...urls.made], revoked: [...urls.revoked] } };
  fetchesSeen = fetches.length;
  sipSeen = sip.length;
  return out;
}
function byAction(action, key) {
  const found = root.querySelectorAll("[data-action]").find((e) => e.dataset.action === action
    && (key === undefined || e.dataset.key === key));
  if (!found) throw new Error("no [data-action=" + action + "]");
  return found;
}

(async () => {
  vm.createContext(context);
  vm.runInContext(fs.readFileSync(process.argv[2], "utf-8"), context, { filename: "app.js" });
  await settle();
  const out = [entry()];
  for (const step of input.steps || []) {
    if (step.ws !== undefined) live().onmessage({ data: JSON.stringify(step.ws) });
    if (step.ws_close) live().drop();
    if (step.advance) advance(step.advance);
    if (step.value) for (const [id, v] of Object.entries(step.value)) document.getElementById(id).value = v;
    if (step.checked) for (const [id, v] of Object.entries(step.checked)) document.getElementById(id).checked = v;
    if (step.type) {
      for (const [id, v] of Object.entries(step.type)) {
        const field = document.getElementById(id);
        field.value = v;
        for (const fn of field.listeners.input || []) fn({});
      }
    }
    if (step.click_on) {
      const [attr, value] = step.click_on;
      const found = root.querySelectorAll("").find((e) => e.getAttribute(attr) === value);
      if (!found) throw new Error("nothing with " + attr + "=" + value);
      for (const fn of found.listeners.click || []) fn({ preventDefault() {} });
    }
    if (step.click) {
      const button = byAction(step.click, step.data_key);
      if (!button.disabled) for (const fn of button.listeners.click || []) fn({ preventDefault() {} });
    }
    if (step.key) for (const fn of listeners.keydown || []) fn({ key: step.key, preventDefault() {} });
    if (step.sip) sipStep(step.sip);
    await settle();
    out.push(entry());
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });
