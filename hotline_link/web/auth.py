"""Bearer tokens with roles: agent (bound to one agent id), supervisor, admin, peer, unit
(one handling unit), channel (one connected intake system: a web portal, the SMS gateway,
an app, a 公众号; ``channel = "<system name>"``, recorded as the source of its tickets).

Tokens live in a TOML file that only its owner may read (``tokens_file``), never in code:

    [[tokens]]
    token = "..."
    role = "agent"
    agent = "1001"

Tokens are kept as SHA-256 digests and compared by digest with ``hmac.compare_digest``,
so no comparison ever runs over the secret itself, none leaks timing, and the file's
contents never reach a log.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hotline_link.core.errors import ConfigError, HttpError
from hotline_link.core.settings import read_toml_private

# unit: a handling unit (联动单位); channel: a connected intake system (web, SMS, app, 公众号)
ROLES = frozenset({"agent", "supervisor", "admin", "peer", "unit", "channel"})
_CHANNEL_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z_.-]{0,63}", re.ASCII)


class AuthError(HttpError):
    status, code = 401, "unauthorized"


class Forbidden(HttpError):
    status, code = 403, "forbidden"


@dataclass(frozen=True)
class Principal:
    role: str
    agent: str = ""
    unit: str = ""  # a unit token's unit id (linkage units directory)
    channel: str = ""  # a channel token's system name (the source of the tickets it opens)

    def require_agent(self, agent: str) -> None:
        """Agents act only as themselves; supervisors and admins may act for any agent."""
        if self.role == "agent" and self.agent != agent:
            raise Forbidden(f"this token belongs to agent {self.agent}, not {agent}")
        if self.role not in ("agent", "supervisor", "admin"):
            raise Forbidden(f"role {self.role} cannot act for agents")

    def require_role(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden(f"needs role {' or '.join(roles)}")


def _digest(token: str) -> str:
    # surrogatepass: a header with undecodable bytes arrives with lone surrogates
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenBook:
    def __init__(self, entries: Iterable[tuple[str, Principal]]) -> None:
        self._by_digest = tuple((_digest(token), principal) for token, principal in entries)

    @classmethod
    def from_file(cls, path: Path) -> TokenBook:
        raw = read_toml_private(path)
        entries = []
        items = raw.get("tokens", [])
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ConfigError(f"{path}: tokens must be [[tokens]] tables")
        for index, item in enumerate(items):
            if not all(isinstance(item.get(k, ""), str) for k in ("token", "role", "agent", "channel")):
                raise ConfigError(f"{path}: tokens[{index}]: token, role, agent and channel must be strings")
            token, role = item.get("token", ""), item.get("role", "")
            if len(token) < 16:
                raise ConfigError(f"{path}: tokens[{index}]: token missing or shorter than 16 characters")
            if role not in ROLES:
                raise ConfigError(f"{path}: tokens[{index}]: role {role!r} is not one of {sorted(ROLES)}")
            if role == "agent" and not item.get("agent"):
                raise ConfigError(f"{path}: tokens[{index}]: an agent token needs agent = \"...\"")
            if role == "unit" and not item.get("unit"):
                raise ConfigError(f"{path}: tokens[{index}]: a unit token needs unit = \"...\"")
            if role == "channel" and not _CHANNEL_NAME.fullmatch(item.get("channel", "")):
                raise ConfigError(f"{path}: tokens[{index}]: a channel token needs channel = \"<system name>\" "
                                  "(1-64 of A-Z a-z 0-9 _ . -)")
            entries.append((token, Principal(role, str(item.get("agent", "")), str(item.get("unit", "")),
                                             str(item.get("channel", "")) if role == "channel" else "")))
        return cls(entries)

    def authenticate(self, token: str) -> Principal:
        presented = _digest(token)
        principal = None
        for digest, candidate in self._by_digest:  # every entry, whichever matches
            if hmac.compare_digest(digest, presented) and token:
                principal = candidate
        if principal is None:
            raise AuthError("missing or unknown bearer token")
        return principal


SANDBOX_CHANNEL = "web-portal"  # the sandbox's one connected intake system (a channel token)


def write_sandbox_tokens(path: Path, agents: Iterable[str]) -> None:
    """One token per agent plus a supervisor, an admin, a peer and a channel token (the
    intake system ``SANDBOX_CHANNEL``) (mode 600). An existing file keeps its tokens and
    gains those of agents (and roles) added since."""
    have: set[tuple[str, str]] = set()
    if path.exists():
        have = {(str(t.get("role")), str(t.get("agent", ""))) for t in read_toml_private(path).get("tokens", [])}
    wanted = [("agent", a) for a in agents] + [(r, "") for r in ("supervisor", "admin", "peer", "channel")]
    lines = []
    for role, agent in wanted:
        if (role, agent) not in have:
            lines += ["[[tokens]]", f'token = "{secrets.token_urlsafe(24)}"', f'role = "{role}"']
            if role == "channel":
                lines.append(f'channel = "{SANDBOX_CHANNEL}"')
            lines += [f'agent = "{agent}"', ""] if agent else [""]
    if not lines:
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as fh:
        fh.write("\n" + "\n".join(lines))


def sandbox_token(path: Path, *, role: str, agent: str = "") -> str:
    """Look a token up in a sandbox tokens file (for the demo and tests)."""
    for item in read_toml_private(path).get("tokens", []):
        if item.get("role") == role and str(item.get("agent", "")) == agent:
            return str(item["token"])
    raise ConfigError(f"{path}: no {role} token{' for agent ' + agent if agent else ''}")
