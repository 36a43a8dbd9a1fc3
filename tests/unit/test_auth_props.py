"""Property tests of the token book: any tokens file gives a book or a ConfigError; any
presented token gives its principal or AuthError, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline_link.core.errors import ConfigError
from hotline_link.web.auth import ROLES, AuthError, Principal, TokenBook
from tests.unit.test_settings_props import _VALUES, _toml_value

BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# what a client can put in "Authorization: Bearer ..." or ?token= (undecodable bytes arrive
# as lone surrogates)
PRESENTED = st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=60)
GOOD_TOKENS = st.text(st.characters(blacklist_categories=("Cs",)), min_size=16, max_size=40)


def _write(tmp_path, text: bytes):
    path = tmp_path / "tokens.toml"
    path.write_bytes(text)
    path.chmod(0o600)
    return path


@BOUNDED
@given(st.one_of(st.binary(max_size=200),
                 st.builds(lambda v: f"tokens = {_toml_value(v)}\n".encode(), _VALUES),
                 st.builds(lambda vs: "".join(f"[[tokens]]\n{k} = {_toml_value(v)}\n" for k, v in vs).encode(),
                           st.lists(st.tuples(st.sampled_from(["token", "role", "agent", "x"]), _VALUES),
                                    max_size=6))))
def test_any_tokens_file_gives_a_book_or_config_error(tmp_path, text):
    try:
        book = TokenBook.from_file(_write(tmp_path, text))
    except ConfigError as exc:
        assert str(exc)
        return
    with pytest.raises(AuthError):
        book.authenticate("")


@BOUNDED
@given(st.lists(st.tuples(GOOD_TOKENS, st.sampled_from(sorted(ROLES)), st.from_regex(r"[0-9]{4}", fullmatch=True)),
                max_size=5, unique_by=lambda t: t[0]), PRESENTED)
def test_a_presented_token_gives_its_principal_or_auth_error(entries, presented):
    book = TokenBook([(token, Principal(role, agent)) for token, role, agent in entries])
    for token, role, agent in entries:
        assert book.authenticate(token) == Principal(role, agent)
    known = {token: Principal(role, agent) for token, role, agent in entries}
    if presented in known:
        assert book.authenticate(presented) == known[presented]
    else:
        with pytest.raises(AuthError):
            book.authenticate(presented)


@pytest.mark.parametrize("presented", ["\udcff" * 20, "abc\ud800"])
def test_undecodable_token_is_unauthorized_not_a_crash(presented):
    # regression: sha256(token.encode("utf-8")) raised UnicodeEncodeError (an HTTP 500)
    with pytest.raises(AuthError):
        TokenBook([("0123456789abcdef", Principal("admin"))]).authenticate(presented)


@pytest.mark.parametrize("body", [b"tokens = 5\n", b"tokens = [5]\n", b'tokens = "x"\n', b"tokens = {a = 1}\n",
                                  b"[[tokens]]\ntoken = 12345678901234567\nrole = \"admin\"\n", b"\xff"])
def test_malformed_tokens_file_is_a_config_error(tmp_path, body):
    with pytest.raises(ConfigError):
        TokenBook.from_file(_write(tmp_path, body))
