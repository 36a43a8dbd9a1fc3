"""The sandbox waits for its Redis to be ready: a Redis loading its append-only file answers
LOADING (and on a busy machine answers late); a chaos restart saw redis-cli time out after
10 s and the job die. Played by a small RESP server on a real socket with the real redis-cli."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.sandbox.processes import RedisProcess
from hotline_link.core.errors import SandboxError


class ScriptedRedis:
    """Answers each command with the next scripted reply (None: say nothing); the last repeats."""

    def __init__(self, replies: list[bytes | None]) -> None:
        self.replies = replies
        self.served = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"ping" not in data.lower():  # AUTH first when given a password
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    if b"auth" in chunk.lower() and b"ping" not in chunk.lower():
                        conn.sendall(b"+OK\r\n")
                    data += chunk
                reply = self.replies[min(self.served, len(self.replies) - 1)]
                self.served += 1
                if reply is None:
                    while conn.recv(4096):  # silent until the client gives up and hangs up
                        pass
                else:
                    conn.sendall(reply)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def scripted(request: pytest.FixtureRequest) -> Iterator[ScriptedRedis]:
    server = ScriptedRedis(request.param)
    yield server
    server.close()


def _redis(tmp_path: Path, port: int, password: str = "") -> RedisProcess:
    return RedisProcess(f"redis://127.0.0.1:{port}/0", tmp_path, password)


@pytest.mark.parametrize("scripted", [[b"-LOADING Redis is loading the dataset in memory\r\n"] * 3
                                      + [b"+PONG\r\n"]], indirect=True)
def test_loading_is_waited_out(tmp_path, scripted):
    assert _redis(tmp_path, scripted.port)._wait_ready("") == "PONG"
    assert scripted.served >= 4  # three LOADING answers were waited out


@pytest.mark.parametrize("scripted", [[None, b"+PONG\r\n"]], indirect=True)
def test_a_late_answer_is_waited_out_not_a_crash(tmp_path, scripted):
    assert _redis(tmp_path, scripted.port, "pw")._wait_ready("pw") == "PONG"
    assert scripted.served >= 2  # the silence, then PONG (more polls when redis-cli starts slowly)


@pytest.mark.parametrize("scripted", [[b"-LOADING Redis is loading the dataset in memory\r\n"]], indirect=True)
def test_a_redis_that_never_gets_ready_is_a_clear_error(tmp_path, scripted, monkeypatch):
    monkeypatch.setattr(RedisProcess, "READY_TIMEOUT_S", 1)
    with pytest.raises(SandboxError, match="was not ready in 1 s"):
        _redis(tmp_path, scripted.port)._wait_ready("")
