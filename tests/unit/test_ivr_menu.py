"""The IVR menu as data, its decisions, and the dialplan written to match it."""

from __future__ import annotations

import re
import wave
from datetime import date

import pytest

from hotline_link.asterisk.render import render_site
from hotline_link.core.errors import ConfigError, SandboxError
from hotline_link.core.settings import Settings
from ivr.answers import answer_prompts
from ivr.menu import (
    MAIN_MENU,
    MISSES_ALLOWED,
    SELF_SERVICE,
    SUBMENU_AGENT_KEY,
    SUBMENU_BACK_KEY,
    WAIT_FOR_KEY_S,
    Action,
    answer_for,
    decide,
    prompts_used,
)
from ivr.prompts import PROMPTS, install_prompts, prompt_path, prompts_for, synthesize
from knowledge.entries import ivr_answers, load_jurisdiction
from tests.helpers import agent_passwords

# the self-service answers as the shipped default knowledge file gives them
SHIPPED = prompts_for("网上12345", answer_prompts(ivr_answers(load_jurisdiction("default"), date(2026, 12, 1))))

MODULES = "/usr/lib/x86_64-linux-gnu/asterisk/modules"
_LINE = re.compile(r"^exten => ([^,]+),(\d+|n)(?:\([a-z]+\))?,(.*)$|^ same => n(?:\([a-z]+\))?,(.*)$")


def _dialplan() -> str:
    settings = Settings(ami_secret="x")
    site = settings.site("12345")
    return render_site(settings, site, MODULES, agent_passwords(site))["extensions_ivr.conf"]


def _contexts(text: str) -> dict[str, dict[str, list[str]]]:
    """{context: {extension: [application calls in priority order]}}"""
    out: dict[str, dict[str, list[str]]] = {}
    context = exten = ""
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].rstrip() if not raw.lstrip().startswith("same") else raw.rstrip()
        if line.startswith("["):
            context = line.strip("[]")
            out[context] = {}
            continue
        match = _LINE.match(line)
        if match is None:
            assert not line.strip(), f"unparsed dialplan line: {raw!r}"
            continue
        if match.group(1) is not None:
            exten = match.group(1)
            out[context].setdefault(exten, []).append(match.group(3))
        else:
            out[context][exten].append(match.group(4))
    return out


@pytest.fixture(scope="module")
def contexts() -> dict[str, dict[str, list[str]]]:
    return _contexts(_dialplan())


def test_keys_choose_their_actions():
    for entry in MAIN_MENU:
        assert decide(entry.key, 0).action is entry.action
    assert decide("9", 0).action is Action.EMERGENCY
    assert decide("0", 0).action is Action.WAIT


def test_silence_or_wrong_key_repeats_once_then_waits_for_an_agent():
    first = decide(None, 0)
    assert first.repeat and first.action is None and first.misses == 1
    assert decide("7", 0).repeat
    assert decide(None, MISSES_ALLOWED) == decide("#", MISSES_ALLOWED)
    last = decide("5", MISSES_ALLOWED)
    assert last.action is Action.WAIT and not last.repeat
    # a valid key after a miss still counts
    assert decide("2", MISSES_ALLOWED).action is Action.CALLBACK


def test_self_service_answers():
    assert answer_for("1") is SELF_SERVICE[0]
    assert answer_for(SUBMENU_BACK_KEY) is None
    assert len(SELF_SERVICE) >= 3


def test_dialplan_main_menu_matches_the_menu_data(contexts):
    ivr = contexts["ivr"]
    digit_extens = {e for e in ivr if re.fullmatch(r"[0-9*#]", e)}
    assert digit_extens == {entry.key for entry in MAIN_MENU}
    for entry in MAIN_MENU:
        assert ivr[entry.key][0] == f"UserEvent(HotlineIvr,Stage: choice,Choice: {entry.action.value})"
    assert f"WaitExten({WAIT_FOR_KEY_S})" in ivr["s"]
    assert "Background(hl/ivr/menu)" in ivr["s"]
    assert "UserEvent(HotlineIvr,Stage: entered,Choice: )" in ivr["s"]


def test_emergency_goes_straight_to_110_and_marks_the_ivr_done(contexts):
    nine = contexts["ivr"]["9"]
    assert "Set(__HL_IVR_DONE=1)" in nine
    gosub = nine.index("Gosub(dial-sites,110,1)")
    assert not any(step.startswith(("Playback", "Background")) for step in nine[:gosub])


def test_waiting_returns_to_intake_once(contexts):
    ivr = contexts["ivr"]
    agent = ivr["agent"]
    assert agent[0] == "Set(__HL_IVR_DONE=1)" and agent[-1] == "Goto(intake,s,1)"
    assert ivr["0"][-1] == "Goto(agent,1)"
    assert ivr["t"] == ["Set(HL_IVR_MISSED=no_input)", "Goto(miss,1)"]
    assert ivr["i"] == ["Set(HL_IVR_MISSED=invalid)", "Goto(miss,1)"]
    assert "Goto(agent,1)" in ivr["miss"] and any(f"> {MISSES_ALLOWED}" in s for s in ivr["miss"])


def test_callback_failure_never_drops_the_caller(contexts):
    two = contexts["ivr"]["2"]
    assert "Gosub(hl-agi,s,1(callback,${SITE}))" in two
    assert any("AGISTATUS" in step and "HL_CALLBACK_TICKET" in step and "?failed" in step for step in two)
    assert two[-1] == "Goto(agent,1)"


def test_self_service_submenu_matches_the_answers(contexts):
    sub = contexts["ivr-self-service"]
    digit_extens = {e for e in sub if re.fullmatch(r"[0-9*#]", e)}
    assert digit_extens == {a.key for a in SELF_SERVICE} | {SUBMENU_BACK_KEY, SUBMENU_AGENT_KEY}
    for answer in SELF_SERVICE:
        steps = sub[answer.key]
        assert steps[0] == (f"UserEvent(HotlineIvr,Stage: choice,Choice: self_service,"
                            f"Topic: {answer.topic})")
        assert f"Background({prompt_path(answer.prompt)})" in steps  # a key may cut it short
        # hanging up during or after an answer counts as served by self-service
        assert steps.index("Set(HL_IVR_ONHANGUP=self_service)") < steps.index(
            f"Background({prompt_path(answer.prompt)})")
    for context in ("ivr", "ivr-self-service"):
        assert contexts[context]["h"] == ['ExecIf($["${HL_IVR_LEFT}" = ""]?UserEvent(HotlineIvr,'
                                          'Stage: left,Choice: ${HL_IVR_ONHANGUP}))']
    assert "Set(HL_IVR_ONHANGUP=hangup)" in contexts["ivr"]["s"]
    assert sub[SUBMENU_BACK_KEY][-1] == "Goto(ivr,s,menu)"
    assert sub[SUBMENU_AGENT_KEY][-1] == "Goto(ivr,agent,1)"


def test_harassment_warning_plays_and_hangs_up(contexts):
    assert contexts["harassment-warning"]["s"] == [
        "Answer()", "Playback(hl/ivr/harassment_warning)", "Hangup()"]


def test_every_prompt_played_exists_and_every_prompt_is_played():
    played = set(re.findall(r"(?:Background|Playback)\(hl/ivr/([a-z0-9_]+)\)", _dialplan()))
    assert played == set(prompts_used()) == set(SHIPPED)


def test_menu_prompts_announce_the_keys_the_dialplan_listens_to():
    for entry in MAIN_MENU:
        assert f"按{entry.key}" in PROMPTS["menu"], entry
    for answer in SELF_SERVICE:
        assert f"{answer.label}请按{answer.key}" in SHIPPED["self_service_menu"]
    assert "星号键" in SHIPPED["self_service_menu"]


def test_web_channel_comes_from_settings():
    prompts = prompts_for("宿迁12345公众号", {})
    assert "宿迁12345公众号" in prompts["web_channel"]
    assert "{web_channel}" not in "".join(prompts.values())
    with pytest.raises(TypeError):
        PROMPTS["menu"] = "x"  # type: ignore[index]  # writing read-only prompts on purpose


def test_ivr_is_in_every_sites_dialplan():
    settings = Settings(ami_secret="x")
    for site in settings.sites:
        files = render_site(settings, site, MODULES, agent_passwords(site))
        assert "[ivr]" in files["extensions_ivr.conf"]
    assert '#include "extensions_ivr.conf"' in files["extensions_common.conf"]


needs_tools = pytest.mark.usefixtures("speech_tools")


@needs_tools
def test_install_prompts_writes_8khz_mono_wav_and_only_what_changed(tmp_path):
    prompts = {"hello": "您好", "bye": "再见"}
    written = install_prompts(prompts, tmp_path)
    assert written == [tmp_path / "bye.wav", tmp_path / "hello.wav"]
    with wave.open(str(tmp_path / "hello.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.getnframes() > 8000 * 0.3  # some speech, not an empty file
    assert install_prompts(prompts, tmp_path) == []
    assert install_prompts({**prompts, "bye": "再会"}, tmp_path) == [tmp_path / "bye.wav"]
    (tmp_path / "hello.wav").unlink()
    assert install_prompts(prompts, tmp_path) == [tmp_path / "bye.wav", tmp_path / "hello.wav"]


def test_bad_prompt_names_and_texts_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="prompt name"):
        install_prompts({"../etc/x": "您好"}, tmp_path)
    with pytest.raises(ConfigError, match="empty text"):
        synthesize("  ", tmp_path / "x.wav")
    assert not list(tmp_path.iterdir())


def test_missing_synthesiser_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SandboxError, match="espeak-ng and sox not installed"):
        synthesize("您好", tmp_path / "x.wav")
