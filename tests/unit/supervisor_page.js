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

const kebab = (key) => key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

class Node {}

class Text extends Node {
  constructor(data) { super(); this.data = String(data); this.parent = null; }
  get textContent() { return this.data; }
}

class Element extends Node {
  constructor(tag) {
    super();
    this.tagName = tag.toUpperCase();
    this.attributes = {};
    this.children = [];
    this.listeners = {};
    this.parent = null;
    this.hidden = false;
    this.value = "";
    this.checked = false;
    const attributes = this.attributes;
    this.dataset = new Proxy({}, {
      get: (_, key) => attributes["data-" + kebab(String(key))],
      set: (_, key, value) => { attributes["data-" + kebab(String(key))] = String(value); return true; },
    });
  }
  get id() { return this.attributes.id || ""; }
  get className() { return this.attributes.class || ""; }
  set className(value) { this.attributes.class = String(value); }
  setAttribute(name, value) { this.attributes[name] = String(value); }
  getAttribute(name) { return name in this.attributes ? this.attributes[name] : null; }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  append(...nodes) {
    for (const node of nodes) {
      const child = node instanceof Element || node instanceof Text ? node : new Text(node);
      child.parent = this;
      this.children.push(child);
    }
  }
  replaceChildren(...nodes) { this.children = []; this.append(...nodes); }
  get textContent() { return this.children.map((c) => c.textContent).join(""); }
  set textContent(value) { this.replaceChildren(String(value)); }
  focus() {}
  *walk() {
    for (const child of this.children) {
      if (child instanceof Element) { yield child; yield* child.walk(); }
    }
  }
  querySelectorAll(selector) { // "tag", "[attr]" or "tag[attr]": all the page asks for
    const match = /^([a-z]*)(?:\[([a-z0-9-]+)\])?$/.exec(selector);
    if (!match) throw new Error("selector not stood in for: " + selector);
    const [, tag, attr] = match;
    return [...this.walk()].filter((e) => (!tag || e.tagName === tag.toUpperCase()) && (!attr || attr in e.attributes));
  }
}

function build(tree) {
  if (typeof tree === "string") return new Text(tree);
  const node = new Element(tree.tag);
  for (const [name, value] of Object.entries(tree.attrs)) node.setAttribute(name, value);
  node.append(...tree.children.map(build));
  return node;
}

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
