"""Recorded prompts of the surge IVR, synthesised at set-up time (never downloaded).

``PROMPTS`` maps a prompt name to its Mandarin text; the dialplan plays ``hl/ivr/<name>``.
The self-service prompts (``self_service_menu`` and the four answers) are not here: their
texts come from the knowledge base (``ivr.answers``), and ``prompts_for`` takes them.
``synthesize`` turns one text into an 8 kHz mono 16-bit ``.wav`` (what Asterisk's
``format_wav`` plays) with Debian's ``espeak-ng -v cmn`` piped into ``sox``;
``install_prompts`` writes a set of prompts into a sounds directory and re-synthesises a
prompt only when its text changed (a ``.sha256`` file next to each ``.wav``).

Public API, used by other capabilities for prompts of their own (each under ``hl/<name>/``
of the sounds dir): ``synthesize``, ``install_prompts``, ``SOUNDS_SUBDIR``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from hotline_link.core.errors import ConfigError, SandboxError

SOUNDS_SUBDIR = "hl/ivr"  # under Asterisk's sounds dir; the dialplan plays hl/ivr/<name>
VOICE = "cmn"  # espeak-ng's Mandarin voice
SPEED_WPM = 190  # espeak-ng's Mandarin is slow at its default 175
SYNTH_TIMEOUT_S = 60.0
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")

# {web_channel} is filled from settings.web_channel (网上渠道: a site or 公众号 name)
_TEXTS = {
    "menu": "您好，这里是12345政务服务便民热线。当前来电较多，"
            "自助查询常见问题请按1，留下电话等待回电请按2，了解网上办理渠道请按3，"
            "继续等待人工服务请按0，如有紧急警情需要报警请按9。",
    "invalid": "对不起，您的输入有误，请重新选择。",
    "no_input": "对不起，没有收到您的按键，请重新选择。",
    "after_answer": "重听请按相应按键，返回主菜单请按星号键，转人工服务请按0，结束请挂机。",
    "web_channel": "您也可以通过{web_channel}在网上咨询和反映诉求，全天受理。",
    "callback_done": "您的回电请求已经登记，我们会尽快按您的来电号码回电，感谢您的来电，再见。",
    "callback_failed": "对不起，回电请求暂时无法登记，正在为您转接人工服务，请稍候。",
    "to_agent": "正在为您转接人工服务，请稍候。",
    "goodbye": "感谢您的来电，再见。",
    "harassment_warning": "您的号码短时间内多次拨打本热线，或已被标记为恶意滋扰。"
                          "恶意骚扰热线属于违法行为，公安机关将依法处理。如有正当诉求，请通过{web_channel}反映。",
}
PROMPTS: Mapping[str, str] = MappingProxyType(_TEXTS)


def prompts_for(web_channel: str, answers: Mapping[str, str]) -> Mapping[str, str]:
    """The IVR's prompts with the configured web channel filled in, and the self-service
    prompts' texts ``answers`` (``ivr.answers.answer_prompts``)."""
    fixed = {name: text.replace("{web_channel}", web_channel) for name, text in PROMPTS.items()}
    return MappingProxyType({**fixed, **answers})


def prompt_path(name: str) -> str:
    """What the dialplan plays: ``hl/ivr/menu`` (no extension, Asterisk picks the format)."""
    return f"{SOUNDS_SUBDIR}/{name}"


def _require_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise SandboxError(f"{' and '.join(missing)} not installed: the IVR prompts are synthesised "
                           "at set-up time (Debian packages espeak-ng, sox); run 'make install'")


def _check_name(name: str) -> None:
    if not name or not set(name) <= _NAME_CHARS:
        raise ConfigError(f"prompt name {name!r}: use lowercase letters, digits and _ only")


def synthesize(text: str, dest: Path) -> Path:
    """Speak ``text`` in Mandarin into ``dest`` (a ``.wav``, 8 kHz mono 16-bit signed)."""
    if not text.strip():
        raise ConfigError(f"prompt {dest.name}: empty text")
    if dest.suffix != ".wav":
        raise ConfigError(f"prompt {dest}: the file must end in .wav")
    _require_tools()
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".part.wav")
    speak = subprocess.Popen(speak_command(text), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        convert = subprocess.run(
            ["sox", "-q", "-t", "wav", "-", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
             "-t", "wav", str(partial)],
            stdin=speak.stdout, capture_output=True, timeout=SYNTH_TIMEOUT_S, check=False)
        assert speak.stdout is not None
        speak.stdout.close()
        speak_err = speak.communicate(timeout=SYNTH_TIMEOUT_S)[1]
    except subprocess.TimeoutExpired:
        speak.kill()
        partial.unlink(missing_ok=True)
        raise SandboxError(f"synthesising {dest.name} took longer than {SYNTH_TIMEOUT_S:.0f} s") from None
    if speak.returncode != 0 or convert.returncode != 0:
        partial.unlink(missing_ok=True)
        detail = (speak_err or convert.stderr).decode(errors="replace").strip()
        raise SandboxError(f"synthesising {dest.name} failed: {detail or 'no output'}")
    partial.replace(dest)  # atomic: Asterisk never plays half a file
    return dest


def speak_command(text: str) -> list[str]:
    """espeak-ng's argv for ``text``. ``--`` ends the options: a text is a supervisor's
    knowledge entry, and one starting with ``-f`` or ``-w`` must be spoken, not obeyed."""
    return ["espeak-ng", "-v", VOICE, "-s", str(SPEED_WPM), "--stdout", "--", text]


def _digest(text: str) -> str:
    return hashlib.sha256(f"{VOICE}:{SPEED_WPM}:{text}".encode()).hexdigest()


def install_prompts(prompts: Mapping[str, str], sounds_dir: Path) -> list[Path]:
    """Write ``sounds_dir/<name>.wav`` for each prompt whose text changed since the last
    install (or that is missing); return the files written, in name order."""
    for name in prompts:
        _check_name(name)
    written = []
    for name in sorted(prompts):
        wav, stamp = sounds_dir / f"{name}.wav", sounds_dir / f"{name}.sha256"
        digest = _digest(prompts[name])
        if wav.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
            continue
        synthesize(prompts[name], wav)
        stamp.write_text(digest + "\n")
        written.append(wav)
    return written
