"""A page's HTML as the nested dicts the node harnesses of the page scripts build their
stand-in DOM from (``{"tag", "attrs", "children"}``, text kept unless blank), and lookups
in what they write back."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

VOID = {"meta", "input", "br", "img", "link", "hr"}
Tree = dict[str, Any]


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[Tree] = [{"tag": "#root", "attrs": {}, "children": []}]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = {"tag": tag, "attrs": {k: v or "" for k, v in attrs}, "children": []}
        self.stack[-1]["children"].append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID:
            assert self.stack.pop()["tag"] == tag, f"the page: </{tag}> closes another element"

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.stack[-1]["children"].append(data)


def page_tree(html: str) -> Tree:
    """The page's ``<html>`` element."""
    parser = _Parser()
    parser.feed(html)
    [top] = [n for n in parser.stack[0]["children"] if isinstance(n, dict)]
    return top


def walk(node: Tree | str) -> Iterator[Tree]:
    if isinstance(node, dict):
        yield node
        for child in node["children"]:
            yield from walk(child)


def text(node: Tree | str) -> str:
    return node if isinstance(node, str) else "".join(text(c) for c in node["children"])


def by_id(tree: Tree, id_: str) -> Tree:
    [found] = [n for n in walk(tree) if n["attrs"].get("id") == id_]
    return found
