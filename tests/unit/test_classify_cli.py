"""The classify subcommand, run through argparse as the CLI will run it."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from hotline_link.core.errors import ConfigError
from tickets.classify_cli import add_classify_parser


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hotline-link")
    add_classify_parser(top.add_subparsers(dest="command", required=True))
    return top


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    return args.func(None, args)


def test_classifies_each_line_and_reports_bad_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "notes.jsonl"
    source.write_text("\n".join([
        json.dumps({"text": "家里停电了"}, ensure_ascii=False),
        "this is not json",
        json.dumps({"note": "no text field"}),
        "",
        json.dumps({"text": "楼下着火了，有人被困"}, ensure_ascii=False),
    ]) + "\n", encoding="utf-8")
    assert run(["classify", "--jsonl", str(source)]) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(lines) == 4  # the blank line gives no output
    assert lines[0]["platform"] == "12345" and lines[0]["category"] == "公共设施"
    assert set(lines[0]) >= {"platform", "category", "confidence", "matter", "responsible_unit",
                             "emergency", "entry_id"}
    assert lines[1]["line"] == 2 and "line 2" in lines[1]["error"] and "not JSON" in lines[1]["error"]
    assert lines[2]["line"] == 3 and "text" in lines[2]["error"]
    assert (lines[3]["platform"], lines[3]["emergency"]) == ("110", True)


def test_all_good_exits_zero_and_reads_stdin(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO('{"text": "路灯不亮了"}\n'))
    assert run(["classify", "--jsonl", "-", "--jurisdiction", "siyang"]) == 0
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (line["platform"], line["entry_id"]) == ("12345", "SY-12345-1")


def test_unknown_jurisdiction_is_a_config_error(tmp_path: Path) -> None:
    source = tmp_path / "notes.jsonl"
    source.write_text('{"text": "x"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="no catalog"):
        run(["classify", "--jsonl", str(source), "--jurisdiction", "atlantis"])
