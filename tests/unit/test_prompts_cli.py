"""``hotline-link prompts`` writes the IVR's prompts once and then only what changed."""

from __future__ import annotations

import json

import pytest

from hotline_link.cli import main
from ivr.answers import ANSWER_PROMPTS
from ivr.prompts import PROMPTS
from linkage.phone import ask_prompts, shipped_categories


@pytest.mark.usefixtures("speech_tools")
def test_prompts_command_installs_then_skips(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "state"))
    assert main(["prompts", "--sounds-dir", str(tmp_path)]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["dir"] == str(tmp_path / "hl") and first["unchanged"] == 0
    asks = ask_prompts(shipped_categories())
    assert sorted(first["written"]) == sorted([f"hl/ivr/{name}.wav" for name in [*PROMPTS, *ANSWER_PROMPTS]]
                                              + [f"hl/ask/{name}.wav" for name in asks])
    assert "hl/ask/fb_pin.wav" in first["written"]
    monkeypatch.setenv("HOTLINE_WEB_CHANNEL", "宿迁12345公众号")
    assert main(["prompts", "--sounds-dir", str(tmp_path)]) == 0
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # only the prompts naming the web channel change with it
    assert sorted(second["written"]) == ["hl/ivr/harassment_warning.wav", "hl/ivr/web_channel.wav"]


def test_prompts_command_needs_a_sounds_dir(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOTLINE_STATE_DIR", str(tmp_path / "state"))
    assert main(["prompts", "--sounds-dir", str(tmp_path / "nowhere")]) == 2
    assert "is not a directory" in capsys.readouterr().err


@pytest.mark.usefixtures("speech_tools")
def test_a_text_that_looks_like_an_option_is_spoken_not_obeyed(tmp_path):
    from ivr.prompts import speak_command, synthesize

    evil = tmp_path / "overwritten.wav"
    text = f"-w{evil}"  # a knowledge entry's answer, typed by a supervisor: not an option
    assert speak_command(text)[-2:] == ["--", text]
    spoken = synthesize(text, tmp_path / "answer.wav")
    assert spoken.stat().st_size > 1000 and not evil.exists()
