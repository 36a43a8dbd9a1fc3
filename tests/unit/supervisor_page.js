// Runs the supervisor page's script (supervisor/static/app.js) on a small stand-in of the
// DOM, for tests/unit/test_supervisor_page_script.py: node supervisor_page.js <app.js>, with
// on stdin {"page": <index.html as a tree>, "steps": [...], "lang": "zh"|"en", "replies":
// {url: [{"status", "body"}, ...]}}. A step is a snapshot, handed to the page as its event
// stream would, or {"timers": ms}, which runs the page's timers of that period. After each
// step (and the page's reads answered) the page's elements are kept; once more after a
// click on the language toggle. stdout: {"pages": [...], "fetches": [{"url", "method",
// "authorization"}]}. A read is answered from "replies" (each answer once, the last one
// again), anything else fails as a network error. Only what the page uses is stood in for:
// no layout, no CSS, no real network.
"use strict";
const fs = require("fs");
const vm = require("vm");

const { Node, Text, Element, build } = require("./stand_in_dom.js");

function dump(node) {
  if (node instanceof Text) return node.data;
  return { tag: node.tagName.toLowerCase(), attrs: { ...node.attributes }, hidden: node.hidden,
    children: node.children.map(dump) };
}

const input = JSON.parse(fs.readFileSync(0, "utf-8"));
const root = build(input.page);
const store = { "hl-lang": input.lang || "zh" };
const sources = [];
const timers = [];
const fetches = [];
const replies = input.replies || {};
function fetch(url, options) {
  const headers = (options && options.headers) || {};
  fetches.push({ url, method: (options && options.method) || "GET", authorization: headers.Authorization || null });
  const answers = replies[url];
  if (!answers || !answers.length) return Promise.reject(new Error("no network here"));
  const answer = answers.length > 1 ? answers.shift() : answers[0];
  return Promise.resolve({ ok: answer.status >= 200 && answer.status < 300, status: answer.status,
    json: async () => JSON.parse(JSON.stringify(answer.body)) });
}
const settled = () => new Promise((resolve) => setImmediate(resolve)); // the page's reads answered
const document = {
  documentElement: root,
  title: "",
  getElementById: (id) => root.querySelectorAll("").find((e) => e.id === id) || null,
  querySelectorAll: (selector) => root.querySelectorAll(selector),
  createElement: (tag) => new Element(tag),
  createElementNS: (_, tag) => new Element(tag),
};
class EventSource {
  constructor(url) { this.url = url; this.listeners = {}; sources.push(this); }
  addEventListener(type, fn) { this.listeners[type] = fn; }
}
const context = {
  document, EventSource, URLSearchParams, Intl, Date, Math, JSON, Object, Number, String, Array, Node,
  console, encodeURIComponent,
  location: { search: "?token=t", pathname: "/supervisor", hash: "", assign() {} },
  history: { replaceState() {} },
  localStorage: { getItem: (k) => (k in store ? store[k] : null), setItem: (k, v) => { store[k] = String(v); } },
  setInterval: (fn, ms) => { timers.push({ fn, ms }); return timers.length; },
  fetch,
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(process.argv[2], "utf-8"), context, { filename: "app.js" });

async function main() {
  const pages = [];
  for (const step of input.steps) {
    if (step.timers !== undefined) timers.filter((timer) => timer.ms === step.timers).forEach((timer) => timer.fn());
    else sources[0].listeners.snapshot({ data: JSON.stringify(step) });
    for (let i = 0; i < 5; i++) await settled();
    pages.push(dump(root));
  }
  document.getElementById("lang").listeners.click.forEach((fn) => fn());
  pages.push(dump(root));
  process.stdout.write(JSON.stringify({ pages, fetches }));
}
main().catch((err) => { console.error(err); process.exit(1); });
