"""The bus event catalog: every class registered once under its name, and ``emit`` sends
exactly what ``publish`` sent for the same event."""

import ast
import json
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest

from hotline_link.core.bus import BusEvent, EventBus
from hotline_link.core.events import (
    CATALOG,
    EVENT_TYPES,
    CallEnded,
    ConferenceJoined,
    Event,
    IvrChoice,
    TransferFailed,
    named,
    payload,
)


def test_every_class_has_a_unique_registered_name():
    names = [cls.NAME for cls in CATALOG]
    assert all(names), "a catalogued class without NAME"
    assert len(names) == len(set(names)), f"names used twice: {sorted(n for n in names if names.count(n) > 1)}"
    assert EVENT_TYPES == {cls.NAME: cls for cls in CATALOG}
    for name, cls in EVENT_TYPES.items():
        assert is_dataclass(cls) and cls.__dataclass_params__.frozen, name  # type: ignore[attr-defined]
        assert "." in name and name == name.lower(), name
        assert issubclass(cls, Event) and fields(cls), name


def test_the_bases_are_not_events():
    assert Event not in CATALOG and all("NAME" in vars(cls) for cls in CATALOG)


def test_payload_is_the_fields_in_order_and_the_same_objects():
    parties = ["1001", "caller"]
    event = ConferenceJoined("1001", "12345", "c1", "r1", "t1", "110", "joined", parties)
    data = payload(event)
    assert list(data) == ["party", "site", "call_id", "room", "ticket_id", "target", "state", "parties"]
    assert data["parties"] is parties


def test_an_optional_key_is_sent_only_when_set():
    assert payload(IvrChoice("c1", "12345", "2")) == {"call_id": "c1", "site": "12345", "choice": "2"}
    assert payload(IvrChoice("c1", "12345", "2", topic="gas")) == {
        "call_id": "c1", "site": "12345", "choice": "2", "topic": "gas"}


def test_emit_sends_what_publish_sent():
    event = CallEnded("c1", "12345", "13812341234", None, "Normal Clearing", "hangup", 12.5)
    old = EventBus()
    new = EventBus()
    with old.subscribe() as was, new.subscribe() as now:
        old.publish("call.ended", call_id="c1", site="12345", caller="13812341234", answered_by=None,
                    cause="Normal Clearing", reason="hangup", duration_s=12.5)
        sent = new.emit(event)
    assert list(now.seen) == list(was.seen) == [sent]
    assert json.dumps(sent.data) == json.dumps(was.seen[0].data)
    assert sent == BusEvent.of(event)


def test_a_bus_event_reads_back_as_its_class():
    event = TransferFailed("1001", "x1", "c1", "110", "t1", "failed", "busy")
    wire = BusEvent.of(event)
    assert wire.is_(TransferFailed) and not wire.is_(CallEnded)
    assert wire.as_(TransferFailed) == event
    with pytest.raises(ValueError):
        wire.as_(CallEnded)
    with pytest.raises(TypeError):
        BusEvent("transfer.failed", {"call_id": "c1"}).as_(TransferFailed)


def test_named_builds_the_event_of_a_computed_name():
    assert named("ivr.left", call_id="c1", site="110", choice="0") == payload_back("ivr.left", "c1", "110", "0")
    with pytest.raises(KeyError):
        named("ivr.nowhere", call_id="c1")
    with pytest.raises(TypeError):
        named("ivr.left", call_id="c1")


def payload_back(name: str, *values: object) -> Event:
    return EVENT_TYPES[name](*values)


PRODUCT = ("hotline_link", "call_control", "seat_pool", "ivr", "agi_scripts", "tickets", "linkage", "supervisor",
           "exchange")
ROOT = Path(__file__).resolve().parents[2]
# the only places that may publish by name: the bus itself, and the linkage journal's
# loose ``note`` kept for tests and dev tools (the product calls ``Journal.record``)
MAY_PUBLISH = {("hotline_link/core/bus.py", "emit"), ("linkage/journal.py", "note")}


def _calls(attr: str):
    """(path, enclosing function, line, first argument) of every ``x.<attr>(...)`` in the product."""
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for func in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
                for node in ast.walk(func):
                    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attr:
                        yield path.relative_to(ROOT).as_posix(), func.name, node.lineno, \
                            node.args[0] if node.args else None


def test_the_product_emits_catalogued_events_only():
    published = sorted({(path, line) for path, func, line, _ in _calls("publish")
                        if (path, func) not in MAY_PUBLISH})
    assert published == [], "publish by name in the product; build the event and emit it: " + \
        ", ".join(f"{p}:{n}" for p, n in published)
    noted = sorted({(path, line) for path, _, line, first in _calls("note")
                    if isinstance(first, (ast.Constant, ast.JoinedStr))})
    assert noted == [], "journal.note by name in the product; use journal.record: " + \
        ", ".join(f"{p}:{n}" for p, n in noted)


def test_the_scan_sees_the_calls_it_allows():
    assert {(path, func) for path, func, _, _ in _calls("publish")} == MAY_PUBLISH
