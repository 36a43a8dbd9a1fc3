"""Fixtures. Sandbox tests run against the real Asterisk sites, SIPp and Redis.

When ``HOTLINE_REQUIRE_SANDBOX=1`` (set by ``make test`` and so by CI) a missing Asterisk,
SIPp or Redis fails the run; otherwise those tests skip with the reason.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hotline_link.app import load_config
from hotline_link.core.errors import HotlineError
from hotline_link.core.logs import configure_logging
from hotline_link.core.settings import Settings, read_secret_file
from tests.helpers import free_tcp_port

if TYPE_CHECKING:
    from devtools.sip.peers import SipPeers
    from hotline_link.app import App

REQUIRED = os.environ.get("HOTLINE_REQUIRE_SANDBOX") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"sandbox required (HOTLINE_REQUIRE_SANDBOX=1) but {reason}", pytrace=False)
    pytest.skip(reason)


class LogLines(io.TextIOBase):
    """structlog's output: echoed to stdout and kept as parsed JSON lines for assertions."""

    def __init__(self) -> None:
        self.lines: list[dict] = []

    def write(self, text: str) -> int:
        sys.stdout.write(text)
        for line in text.split("\n"):  # not splitlines(): U+2028 inside a value is not a line end
            if line.strip():
                self.lines.append(json.loads(line))
        return len(text)

    def events(self, name: str) -> list[dict]:
        return [line for line in self.lines if line.get("event") == name]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """A test that configures logging (a CLI's ``main``, ``log_lines``, a stream of its own)
    must not leave later tests writing to its stream: pytest closes a test's captured
    stdout when the test ends, and a log line written there is an error in the next one."""
    import logging

    import structlog

    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.configure(**saved)
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def speech_tools() -> None:
    """espeak-ng and sox, which synthesise the prompts: missing, they fail a CI run."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        _unavailable("espeak-ng and sox are not installed (Debian packages espeak-ng, sox)")


@pytest.fixture
def log_lines() -> LogLines:
    lines = LogLines()
    configure_logging("info", stream=lines)
    return lines


def pytest_configure(config: pytest.Config) -> None:
    """SIGTERM ends the run like Ctrl-C: pytest then tears the session down, and
    ``sandbox_settings`` leaves the sandbox with no channel or contact of this run."""
    import signal

    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, signal.default_int_handler)


@pytest.fixture(scope="session")
def sandbox_settings() -> Iterator[Settings]:
    """Settings of the running sandbox; brings it up (without building) if it is down.
    The run starts and ends with no channel and no agent contact on any site, whatever an
    earlier run (a test, a benchmark, the demo, an interrupted run) left."""
    if os.geteuid() != 0:
        _unavailable("the sandbox needs root")
    for tool in ("sipp", "redis-server", "chroot"):
        if shutil.which(tool) is None:
            _unavailable(f"{tool} is not installed (run 'make install')")
    settings = load_config()
    from devtools.sandbox import Sandbox

    try:
        status = Sandbox(settings).up(build=REQUIRED)
    except HotlineError as exc:
        _unavailable(str(exc))
    if not status.running:
        _unavailable(f"the sandbox did not come up: {status}")
    settings = load_config()  # again: now the secrets file exists
    _forget_linkage_schedules(settings)
    sandbox = Sandbox(settings)
    sandbox.clear()
    yield settings
    sandbox.clear()


def _forget_linkage_schedules(settings: Settings) -> None:
    """Calls an earlier test, run or the demo left scheduled (回访 for the next calling hours)
    and deadlines it left open must not ring in the middle of a test: an overdue deadline
    calls the unit (督办) or the command centre (提级), which would reach a test's handset."""
    import redis

    from linkage.redis_keys import LinkageKeys

    keys = LinkageKeys()
    client = redis.Redis.from_url(settings.redis_url, password=settings.redis_password or None)
    try:
        client.delete(keys.phone_due, keys.due)
    finally:
        client.close()


@pytest.fixture(scope="session")
def agent_secrets(sandbox_settings: Settings) -> dict[str, str]:
    """The sandbox's secrets: each agent's own SIP password among them (``agent_password``)."""
    return read_secret_file(sandbox_settings.secrets_file)


@pytest.fixture
def server_settings(sandbox_settings: Settings) -> Settings:
    from devtools.sandbox import Sandbox

    _forget_linkage_schedules(sandbox_settings)  # each test's server starts with no schedule left over
    Sandbox(sandbox_settings).ready_seats()  # nor a seat a failed test left paused or logged out
    return replace(sandbox_settings, http_port=free_tcp_port(), ami_reconnect_min_s=0.2,
                   ami_reconnect_max_s=1.0)


@pytest.fixture
async def server(server_settings: Settings, log_lines: LogLines) -> AsyncIterator[App]:
    from hotline_link.app import App

    srv = App(server_settings)
    await srv.start()
    await srv.ami.wait_connected(15)
    yield srv
    await srv.stop()


@pytest.fixture
def peers(tmp_path: Path) -> Iterator[SipPeers]:
    from devtools.sip.peers import SipPeers

    sip = SipPeers(tmp_path / "sipp")
    yield sip
    sip.kill_all()
