"""``hotline-link prompts``: synthesise the IVR's Mandarin prompts into an Asterisk sounds
directory at set-up time (``sandbox up`` does the same for the sandbox's root).

Writes ``<sounds-dir>/hl/ivr/<name>.wav`` (the surge IVR; its self-service answers from the
knowledge data file of the configured jurisdiction) and ``<sounds-dir>/hl/ask/<name>.wav``
(dispatch and 回访 calls, the units' feedback line) for each prompt whose text changed and
prints one JSON line: ``{"dir", "written", "unchanged"}``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings
from hotline_link.core.zone import HOTLINE_ZONE
from ivr.answers import answer_prompts
from ivr.prompts import SOUNDS_SUBDIR, install_prompts, prompts_for
from knowledge.config import jurisdiction_of
from knowledge.entries import ivr_answers, load_jurisdiction
from linkage.phone import SOUNDS_SUBDIR as ASK_SOUNDS
from linkage.phone import ask_prompts, shipped_categories

DEBIAN_SOUNDS = Path("/usr/share/asterisk/sounds")  # astdatadir/sounds of Debian's Asterisk


def self_service_texts(settings: Settings) -> dict[str, str]:
    """The self-service prompts' texts from the knowledge data file of the configured
    jurisdiction (the server starts from the same file, so set-up and runtime agree until a
    supervisor edits an answer; the server then re-synthesises it)."""
    today = datetime.now(HOTLINE_ZONE).date()
    return answer_prompts(ivr_answers(load_jurisdiction(jurisdiction_of(settings)), today))


def prompt_sets(web_channel: str, sounds: Path, answers: Mapping[str, str]) -> list[tuple[Mapping[str, str], Path]]:
    """Every prompt hotline-link plays, each set with its directory under Asterisk's sounds:
    the surge IVR's (hl/ivr; ``answers``: the self-service prompts' texts,
    ``self_service_texts``) and the phone asks' (hl/ask: dispatch with the catalogs'
    categories, 回访, 督办 and 提级, the units' feedback line)."""
    return [(prompts_for(web_channel, answers), sounds / SOUNDS_SUBDIR),
            (ask_prompts(shipped_categories()), sounds / ASK_SOUNDS)]


def add_prompts_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("prompts", help="synthesise the IVR's prompts (espeak-ng, sox) "
                                                   "into Asterisk's sounds directory")
    parser.add_argument("--sounds-dir", type=Path, default=DEBIAN_SOUNDS,
                        help=f"Asterisk's sounds directory (default {DEBIAN_SOUNDS})")
    parser.set_defaults(func=run)
    return parser


def run(settings: Settings, args: argparse.Namespace) -> int:
    sounds: Path = args.sounds_dir
    if not sounds.is_dir():
        raise ConfigError(f"{sounds} is not a directory: give Asterisk's sounds directory "
                          "with --sounds-dir")
    sets = prompt_sets(settings.web_channel, sounds, self_service_texts(settings))
    written = [path for prompts, target in sets for path in install_prompts(prompts, target)]
    print(json.dumps({"dir": str(sounds / "hl"), "written": [str(p.relative_to(sounds)) for p in written],
                      "unchanged": sum(len(prompts) for prompts, _ in sets) - len(written)}, ensure_ascii=False))
    return 0
