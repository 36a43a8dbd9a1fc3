"""Property tests of settings loading: whatever a TOML file or the environment holds, the
answer is a ``Settings`` or a ``ConfigError`` naming the problem, never another exception
(the CLI turns a ConfigError into one line; anything else is a traceback)."""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline_link.app import BUILTIN_PLUGINS, load_config
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings, load_settings

BOUNDED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# core's names and every section's flat ones (still taken at the top level, with a warning)
NAMES = [f.name for f in fields(Settings)] + [key for plugin in BUILTIN_PLUGINS.values() if plugin.config_model
                                             for key in plugin.config_model.keys()]
# TOML values of every kind, nested a little
_SCALARS = st.one_of(
    st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=30),
    st.sampled_from(["", "0", "-1", "65536", "1e400", "nan", "inf", "12345", "110", "remote", "\x00", "a" * 5000]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["id", "sip_port", "ami_port", "rtp_start", "rtp_end", "agents",
                                     "intake", "host", "110", "x"]), inner, max_size=7)), max_leaves=12)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, str):
        return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f'"{k}" = {_toml_value(v)}' for k, v in value.items()) + "}"


def _load(tmp_path: Path, text: bytes, env: dict[str, str]) -> None:
    config = tmp_path / "hl.toml"
    config.write_bytes(text)
    try:
        loaded = load_config(config, env={"HOTLINE_STATE_DIR": str(tmp_path / "state"), **env})
    except ConfigError as exc:
        assert str(exc)
        return
    assert isinstance(loaded, Settings)


@BOUNDED
@given(st.dictionaries(st.sampled_from(NAMES + ["unknown_one"]), _VALUES, max_size=5))
def test_any_toml_settings_give_settings_or_config_error(tmp_path, table):
    text = "\n".join(f"{name} = {_toml_value(value)}" for name, value in table.items()) + "\n"
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        pass  # still a test: the loader must say so with a ConfigError
    _load(tmp_path, text.encode("utf-8"), {})


@BOUNDED
@given(st.binary(max_size=300))
def test_any_bytes_as_config_file_give_config_error_or_settings(tmp_path, raw):
    _load(tmp_path, raw, {})


@BOUNDED
@given(st.dictionaries(st.sampled_from([f"HOTLINE_{n.upper()}" for n in NAMES if n not in ("state_dir",)]),
                       st.one_of(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                                         max_size=20),
                                 st.sampled_from(["1e400", "nan", "inf", "-5", "0", "a" * 5000, "110,12345"])),
                       max_size=4))
def test_any_env_gives_settings_or_config_error(tmp_path, env):
    _load(tmp_path, b"", env)


@pytest.mark.parametrize("text", [
    b"agi_port = inf\n",            # int(inf) raised OverflowError
    b"agi_port = \xff\n",           # not UTF-8: tomllib raised UnicodeDecodeError
    b"sites = 5\n",                 # enumerate(5) raised TypeError
    b"sites = [5]\n",               # '"id" in 5' raised TypeError
    b'state_dir = "' + b"a" * 5000 + b'"\n',  # OSError: file name too long
])
def test_regressions_are_config_errors(tmp_path, text):
    config = tmp_path / "hl.toml"
    config.write_bytes(text)
    with pytest.raises(ConfigError):
        load_settings(config, env={})


def test_a_directory_as_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        load_settings(tmp_path, env={})
