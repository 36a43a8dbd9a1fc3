// Runs the supervisor's analysis page script (supervisor/static/analysis.js) on the stand-in
// DOM, for tests/unit/test_supervisor_analysis_page.py: node analysis_page.js <analysis.js>,
// with on stdin {"page": <analysis.html as a tree>, "lang": "zh"|"en", "routes": {"GET /path":
// reply or [replies...]}, "steps": [...]}. A reply is {"status", "body"} ({"network": true}: the
// request fails as a network error; {"headers": {...}}: its headers); a list is answered in
// order, its last reply again after that; a request no route names gets 404. fetch, blob:
// URLs and the clock are fakes the steps drive:
//   {"advance": ms}                 the clock moves on, running the timers that fall due
//   {"click": [attr, value]}        a click on the element whose attr is value ("id", "lang")
//   {"value": {id: text}}           an input's value; {"checked": {id: bool}} a checkbox
//   {"submit": id}                  the form is submitted
// After the script starts and after each step: [{"page", "fetches", "urls", "clicked"}...],
// fetches since the previous entry; urls: the blob: URLs made; clicked: the links the script
// clicked itself (a download). No layout, no CSS, no real network.
"use strict";
const fs = require("fs");
const vm = require("vm");

const { Node, Text, Element, build } = require("./stand_in_dom.js");

const clicked = [];
Element.prototype.click = function click() {
  if (this.tagName === "A") clicked.push({ href: this.getAttribute("href"), download: this.getAttribute("download") });
  for (const fn of this.listeners.click || []) fn({ preventDefault() {} });
};

function dump(node) {
  if (node instanceof Text) return node.data;
  const out = { tag: node.tagName.toLowerCase(), attrs: { ...node.attributes }, hidden: node.hidden,
    disabled: node.disabled, children: node.children.map(dump) };
  if (["INPUT", "TEXTAREA", "SELECT"].includes(node.tagName)) Object.assign(out, { value: node.value, checked: node.checked });
  return out;
}

const input = JSON.parse(fs.readFileSync(0, "utf-8"));
const root = build(input.page);
const store = { "hl-lang": input.lang || "zh" };

let clock = Date.parse("2026-12-07T10:00:00+08:00");
let timers = [];
let timerSeq = 0;
const schedule = (fn, ms, every) => {
  timers.push({ id: ++timerSeq, at: clock + (ms || 0), fn, every });
  return timerSeq;
};
const unschedule = (id) => { timers = timers.filter((x) => x.id !== id); };
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
  fetches.push({ method, url, authorization: (init && init.headers && init.headers.Authorization) || null,
    body: init && init.body !== undefined ? JSON.parse(init.body) : null });
  const answer = reply(method + " " + url);
  if (answer.network) return Promise.reject(new TypeError("Failed to fetch"));
  const headers = answer.headers || {};
  return Promise.resolve({ ok: answer.status >= 200 && answer.status < 300, status: answer.status,
    headers: { get: (name) => headers[name] || null },
    json: () => (answer.body === undefined ? Promise.reject(new Error("no body")) : Promise.resolve(answer.body)),
    blob: () => Promise.resolve({ blob: answer.body }) });
}
const urls = [];
const URL = {
  createObjectURL: (blob) => { const url = "blob:http://127.0.0.1:8080/" + (urls.length + 1); urls.push({ url, blob: blob.blob }); return url; },
  revokeObjectURL: () => {},
};

const document = {
  documentElement: root,
  title: "",
  getElementById: (id) => root.querySelectorAll("").find((e) => e.id === id) || null,
  querySelectorAll: (selector) => root.querySelectorAll(selector),
  createElement: (tag) => new Element(tag),
  createElementNS: (_, tag) => new Element(tag),
};
const context = {
  document, URLSearchParams, Intl, JSON, Object, Number, String, Array, Math, Set, Promise, Node, console,
  Date: FakeDate, fetch, URL, TypeError, encodeURIComponent,
  location: { search: "?token=sup-t0k", pathname: "/supervisor/analysis", hash: "" },
  history: { replaceState() {} },
  localStorage: { getItem: (k) => (k in store ? store[k] : null), setItem: (k, v) => { store[k] = String(v); } },
  setTimeout: (fn, ms) => schedule(fn, ms), clearTimeout: unschedule,
  setInterval: (fn, ms) => schedule(fn, ms, ms), clearInterval: unschedule,
};

const settle = async () => { for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve)); };
let seen = 0;
function entry() {
  const out = { page: dump(root), fetches: fetches.slice(seen), urls: [...urls], clicked: [...clicked] };
  seen = fetches.length;
  return out;
}

(async () => {
  vm.createContext(context);
  vm.runInContext(fs.readFileSync(process.argv[2], "utf-8"), context, { filename: "analysis.js" });
  await settle();
  const out = [entry()];
  for (const step of input.steps || []) {
    if (step.advance) advance(step.advance);
    if (step.value) for (const [id, v] of Object.entries(step.value)) document.getElementById(id).value = v;
    if (step.checked) for (const [id, v] of Object.entries(step.checked)) document.getElementById(id).checked = v;
    if (step.click) {
      const [attr, value] = step.click;
      const found = root.querySelectorAll("").find((e) => e.getAttribute(attr) === value);
      if (!found) throw new Error("nothing with " + attr + "=" + value);
      if (!found.disabled) for (const fn of found.listeners.click || []) fn({ preventDefault() {} });
    }
    if (step.submit) for (const fn of document.getElementById(step.submit).listeners.submit || []) fn({ preventDefault() {} });
    await settle();
    out.push(entry());
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });
