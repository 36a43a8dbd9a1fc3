// Runs the supervisor page's script (supervisor/static/app.js) on a small stand-in of the
// DOM, for tests/unit/test_supervisor_page.py: node supervisor_page.js <app.js>, with on
// stdin {"page": <index.html as a tree>, "snapshots": [...], "lang": "zh"|"en"}. Each
// snapshot is handed to the page as its event stream would; after each, the page's
// elements are written to stdout as JSON (one array, one entry per snapshot), and once
// more after a click on the language toggle. Only what the page uses is stood in for:
// no layout, no CSS, no network.
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
  console,
  location: { search: "?token=t", pathname: "/supervisor", hash: "", assign() {} },
  history: { replaceState() {} },
  localStorage: { getItem: (k) => (k in store ? store[k] : null), setItem: (k, v) => { store[k] = String(v); } },
  setInterval: () => 0,
  fetch: () => Promise.reject(new Error("no network here")),
};
vm.createContext(context);
vm.runInContext(fs.readFileSync(process.argv[2], "utf-8"), context, { filename: "app.js" });

const out = [];
for (const snapshot of input.snapshots) {
  sources[0].listeners.snapshot({ data: JSON.stringify(snapshot) });
  out.push(dump(root));
}
document.getElementById("lang").listeners.click.forEach((fn) => fn());
out.push(dump(root));
process.stdout.write(JSON.stringify(out));
