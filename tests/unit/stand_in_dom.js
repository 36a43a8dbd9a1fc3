// A small stand-in of the DOM for the pages' script tests (desk_page.js, supervisor_page.js):
// elements with attributes, dataset, hidden/disabled/value, listeners, text and the few
// selectors the pages ask for; build() makes one from a page served as a tree
// ({"tag", "attrs", "children"}). No layout, no CSS.
"use strict";

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
    this.disabled = false;
    this.value = "";
    this.checked = false;
    this.srcObject = null;
    const attributes = this.attributes;
    this.dataset = new Proxy({}, {
      get: (_, key) => attributes["data-" + kebab(String(key))],
      set: (_, key, value) => { attributes["data-" + kebab(String(key))] = String(value); return true; },
    });
  }
  get id() { return this.attributes.id || ""; }
  get className() { return this.attributes.class || ""; }
  set className(value) { this.attributes.class = String(value); }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
    if (name === "hidden") this.hidden = true;
    if (name === "value") this.value = String(value);
  }
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
  querySelectorAll(selector) { // "[attr]", "[attr=value]", "tag" or "tag[attr]": all the page asks for
    const match = /^([a-z]*)(?:\[([a-z0-9-]+)(?:=([a-z0-9_-]+))?\])?$/.exec(selector);
    if (!match) throw new Error("selector not stood in for: " + selector);
    const [, tag, attr, value] = match;
    return [...this.walk()].filter((e) => (!tag || e.tagName === tag.toUpperCase())
      && (!attr || (attr in e.attributes && (value === undefined || e.attributes[attr] === value))));
  }
}

function build(tree) {
  if (typeof tree === "string") return new Text(tree);
  const node = new Element(tree.tag);
  for (const [name, value] of Object.entries(tree.attrs)) node.setAttribute(name, value);
  node.append(...tree.children.map(build));
  if (node.tagName === "SELECT") { // as a browser does: the selected option's value, else the first's
    const options = [...node.walk()].filter((e) => e.tagName === "OPTION");
    const chosen = options.find((o) => "selected" in o.attributes) || options[0];
    node.value = chosen ? chosen.getAttribute("value") ?? chosen.textContent : "";
  }
  return node;
}

module.exports = { Node, Text, Element, build };
