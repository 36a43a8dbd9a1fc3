"""The knowledge base (一问一答) on the real sandbox: an agent's search, a supervisor's edit
of an IVR answer heard by the next caller (in the call's own recording), and the shareable
entries of the other agency's deployment found through its peer token."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import wave
from pathlib import Path
from urllib.parse import quote

import pytest

from hotline_link.asterisk.layout import recordings_path
from ivr.prompts import SOUNDS_SUBDIR, synthesize
from tests.helpers import is_event
from tests.sandbox.audio import best_match
from tests.sandbox.callflows import Api

pytestmark = pytest.mark.sandbox
NEW_ANSWER = "挪车请使用城市停车应用里的一键挪车功能，系统会通知车主在十分钟内前来挪车。"


async def search(api: Api, query: str, *, agent: str = "", role: str = "agent", token: str | None = None,
                 include_peer: bool = False) -> dict:
    path = f"/api/knowledge/search?q={quote(query)}&limit=5" + ("&include_peer=true" if include_peer else "")
    status, body = await api.request("GET", path, agent, role=role, token=token)
    assert status == 200, body
    return body


def _installed(prompt: Path, expected: Path) -> bool:
    """``prompt`` sounds as ``expected`` does (espeak-ng and sox give the same length and
    loudness envelope each time, though not the same bytes)."""
    return (prompt.is_file() and prompt.stat().st_size == expected.stat().st_size
            and best_match(expected, prompt) >= 0.98)


def _finished(path: Path) -> bool:
    """MixMonitor has closed the recording (its WAV header then gives its length)."""
    with contextlib.suppress(OSError, EOFError, wave.Error), wave.open(str(path), "rb") as wav:
        return wav.getnframes() > 0
    return False


async def until_installed(prompt: Path, expected: Path, timeout_s: float = 60) -> None:
    for _ in range(int(timeout_s / 0.2)):
        if await asyncio.to_thread(_installed, prompt, expected):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{prompt} never became the synthesis of {expected.name}")


async def until_recorded(path: Path, timeout_s: float = 20) -> Path:
    for _ in range(int(timeout_s / 0.2)):
        if await asyncio.to_thread(_finished, path):
            return path
        await asyncio.sleep(0.2)
    raise AssertionError(f"no finished recording {path.name}")


async def test_an_edited_ivr_answer_is_what_the_next_caller_hears(cc_server, peers, tmp_path):
    server, api = cc_server, Api(cc_server)
    found = await search(api, "公积金怎么取", agent="1001")
    assert "公积金" in found["results"][0]["question"] and "提取" in found["results"][0]["question"], found

    status, listed = await api.request("GET", "/api/knowledge/entries", role="supervisor")
    assert status == 200, listed
    move_car = next(e for e in listed["entries"] if e["ivr_key"] == "4")
    fields = ("question", "answer", "category", "platform", "valid_from", "valid_to", "source", "shareable",
              "ivr_key", "ivr_label")
    original = {k: move_car[k] for k in fields}
    prompt = server.settings.sounds_path() / SOUNDS_SUBDIR / "answer_move_car.wav"
    old_wav = synthesize(original["answer"], tmp_path / "old.wav")
    new_wav = synthesize(NEW_ANSWER, tmp_path / "new.wav")
    await until_installed(prompt, old_wav)  # what callers hear before the edit

    status, agent_edit = await api.request("PUT", f"/api/knowledge/entries/{move_car['id']}", "1001",
                                           json={**original, "answer": NEW_ANSWER})
    assert status == 403, agent_edit  # agents read the knowledge base; supervisors edit it
    try:
        status, edited = await api.request("PUT", f"/api/knowledge/entries/{move_car['id']}", role="supervisor",
                                           json={**original, "answer": NEW_ANSWER,
                                                 "expected_version": move_car["version"]})
        assert status == 200 and edited["version"] == move_car["version"] + 1, edited
        await until_installed(prompt, new_wav)

        caller = "139" + "".join(secrets.choice("0123456789") for _ in range(8))
        with server.bus.subscribe() as events:
            run = await peers.call_dtmf(server.settings.site("12345"), caller, "12345",
                                        [(2000, "1"), (2000, "4")], hold_ms=None, wait_bye_s=90)
            started = await events.wait_for(is_event("call.started", site="12345", caller=caller), 10)
            call_id = started.data["call_id"]
            reply = await server.ami.send("12345", {"Action": "Redirect", "Channel": started.data["channel"],
                                                    "Context": "ivr", "Exten": "s", "Priority": "1"})
            assert "Redirect successful" in str(reply), reply
            await events.wait_for(is_event("ivr.choice", call_id=call_id, topic="move_car"), 20)
            await events.wait_for(is_event("ivr.left", call_id=call_id, choice="self_service"), 60)
        assert await run.finished(30) == 0, run.output()

        # an IVR caller opens no ticket: its recording is read where Asterisk wrote it
        heard = await until_recorded(recordings_path(server.settings, "12345") / f"{call_id}-1.wav")
        new_match, old_match = best_match(new_wav, heard), best_match(old_wav, heard)
        assert new_match >= 0.8 and old_match < new_match - 0.3, (new_match, old_match)
    finally:
        status, restored = await api.request("PUT", f"/api/knowledge/entries/{move_car['id']}", role="supervisor",
                                             json=original)
        assert status == 200, restored
        await until_installed(prompt, old_wav)

    status, history = await api.request("GET", f"/api/knowledge/entries/{move_car['id']}/history",
                                        role="supervisor")
    assert status == 200, history
    assert [h["by"] for h in history["history"][:2]] == ["supervisor", "supervisor"], history


async def test_the_other_agencys_shareable_entries_come_through_its_peer_token(two_deployments):
    hotline, police = Api(two_deployments["12345"].server), Api(two_deployments["110"].server)
    question = "无犯罪记录证明怎么开"  # a 110 entry, shareable (公安服务知识库)
    assert all(not r["from_peer"] for r in (await search(hotline, question, agent="1001"))["results"])
    joined = await search(hotline, question, agent="1001", include_peer=True)
    assert joined["peer_error"] is None, joined
    from_police = [r for r in joined["results"] if r["from_peer"]]
    assert from_police and "无犯罪记录" in from_police[0]["question"] and from_police[0]["platform"] == "110", joined

    # 110's own 口径 for telling a police matter from a request to move a car is not shareable
    internal = await search(police, "挪车求助 警情", agent="2001")
    kept = [r["id"] for r in internal["results"] if r["platform"] == "110" and not r["shareable"]]
    assert kept, internal
    shared = await search(hotline, "挪车求助 警情", agent="1001", include_peer=True)
    assert not set(kept) & {r["id"] for r in shared["results"] if r["from_peer"]}, shared
    # the same through the peer token directly: shareable entries only
    direct = await search(police, "挪车求助 警情", token=police.token(role="peer"))
    assert direct["results"] and all(r["shareable"] for r in direct["results"]), direct
