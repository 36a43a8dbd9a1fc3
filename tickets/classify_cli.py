"""``hotline-link classify``: suggest 110 or 12345 for notes read from a JSON-lines file.

Each input line is ``{"text": "..."}``; each output line is the recommendation as JSON
(platform, category, matter, entry_id, responsible_unit, emergency, confidence, reasons).
A bad line gives ``{"line": N, "error": "..."}`` and the run goes on; the exit status is
1 if any line was bad, else 0. The lead wires ``add_classify_parser`` into the CLI.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from tickets.recommend import Recommender


def add_classify_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``classify`` on an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "classify", help="suggest 110 or 12345 for caller notes (JSON lines in, JSON lines out)")
    parser.add_argument("--jsonl", required=True, metavar="FILE",
                        help='input, one {"text": ...} per line; "-" reads stdin')
    parser.add_argument("--jurisdiction", default="default", metavar="NAME",
                        help="catalog to use (default: default)")
    parser.set_defaults(func=run)
    return parser


def _text_of(raw: str) -> str:
    """The note of one input line; ValueError says why there is none."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("no non-empty 'text' field")
    return text


def classify_lines(recommender: Recommender, lines: Iterable[str], out: TextIO) -> int:
    """Write one JSON line per non-blank input line; returns how many were bad."""
    bad = 0
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            result: dict[str, Any] = {"line": number, **recommender.recommend(_text_of(raw)).as_dict()}
        except ValueError as exc:
            bad += 1
            result = {"line": number, "error": f"line {number}: {exc}"}
        out.write(json.dumps(result, ensure_ascii=False) + "\n")
    return bad


def run(settings: object, args: argparse.Namespace) -> int:
    """Entry point of the subcommand; ``settings`` is not needed and may be None."""
    recommender = Recommender.for_jurisdiction(args.jurisdiction)
    if args.jsonl == "-":
        bad = classify_lines(recommender, sys.stdin, sys.stdout)
    else:
        with open(args.jsonl, encoding="utf-8") as handle:
            bad = classify_lines(recommender, handle, sys.stdout)
    return 1 if bad else 0
