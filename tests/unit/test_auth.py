import pytest

from hotline_link.core.errors import ConfigError
from hotline_link.web.auth import (
    SANDBOX_CHANNEL,
    AuthError,
    Forbidden,
    Principal,
    TokenBook,
    sandbox_token,
    write_sandbox_tokens,
)


def test_sandbox_tokens_file_is_private_and_works(tmp_path):
    path = tmp_path / "tokens.toml"
    write_sandbox_tokens(path, ["1001", "2001"])
    assert path.stat().st_mode & 0o077 == 0
    book = TokenBook.from_file(path)
    assert book.authenticate(sandbox_token(path, role="agent", agent="1001")) == Principal("agent", "1001")
    assert book.authenticate(sandbox_token(path, role="supervisor")).role == "supervisor"
    with pytest.raises(AuthError):
        book.authenticate("nope")
    with pytest.raises(AuthError):
        book.authenticate("")


def test_new_agents_get_tokens_and_old_tokens_stay(tmp_path):
    path = tmp_path / "tokens.toml"
    write_sandbox_tokens(path, ["1001"])
    first = sandbox_token(path, role="agent", agent="1001")
    write_sandbox_tokens(path, ["1001", "1002"])
    assert sandbox_token(path, role="agent", agent="1001") == first
    book = TokenBook.from_file(path)
    assert book.authenticate(sandbox_token(path, role="agent", agent="1002")).agent == "1002"
    assert path.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("body, reason", [
    ('[[tokens]]\ntoken = "short"\nrole = "agent"\nagent = "1"\n', "shorter than 16"),
    ('[[tokens]]\ntoken = "0123456789abcdefgh"\nrole = "king"\n', "role 'king'"),
    ('[[tokens]]\ntoken = "0123456789abcdefgh"\nrole = "agent"\n', "needs agent"),
    ('[[tokens]]\ntoken = "0123456789abcdefgh"\nrole = "channel"\n', "needs channel"),
    ('[[tokens]]\ntoken = "0123456789abcdefgh"\nrole = "channel"\nchannel = "a b"\n', "needs channel"),
    ('[[tokens]]\ntoken = "0123456789abcdefgh"\nrole = "channel"\nchannel = 7\n', "must be strings"),
])
def test_bad_tokens_file(tmp_path, body, reason):
    path = tmp_path / "t.toml"
    path.write_text(body)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match=reason):
        TokenBook.from_file(path)


def test_the_sandbox_has_a_channel_token_named_after_its_system(tmp_path):
    path = tmp_path / "tokens.toml"
    write_sandbox_tokens(path, ["1001"])
    book = TokenBook.from_file(path)
    assert book.authenticate(sandbox_token(path, role="channel")) == Principal("channel", channel=SANDBOX_CHANNEL)
    first = sandbox_token(path, role="channel")
    write_sandbox_tokens(path, ["1001", "1002"])  # kept, not doubled
    assert sandbox_token(path, role="channel") == first
    assert sum(1 for line in path.read_text().splitlines() if line == 'role = "channel"') == 1


def test_a_channel_token_names_its_system_and_only_a_channel_token_does(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('[[tokens]]\ntoken = "channel-token-0123456789"\nrole = "channel"\nchannel = "sms-gw.1"\n'
                    '[[tokens]]\ntoken = "admin-token-0123456789ab"\nrole = "admin"\nchannel = "sms-gw.1"\n')
    path.chmod(0o600)
    book = TokenBook.from_file(path)
    assert book.authenticate("channel-token-0123456789") == Principal("channel", channel="sms-gw.1")
    assert book.authenticate("admin-token-0123456789ab") == Principal("admin")  # no channel of its own


def test_world_readable_tokens_file_is_refused(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("")
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        TokenBook.from_file(path)


def test_roles():
    Principal("agent", "1001").require_agent("1001")
    Principal("supervisor").require_agent("1001")
    with pytest.raises(Forbidden):
        Principal("agent", "1001").require_agent("1002")
    with pytest.raises(Forbidden):
        Principal("peer").require_agent("1001")
    with pytest.raises(Forbidden):
        Principal("agent", "1").require_role("supervisor", "admin")
