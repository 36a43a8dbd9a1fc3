"""Start and stop the sandbox's processes: one Asterisk per site (in the chroot) and Redis.

Each process is detached into its own session so it outlives the ``sandbox up`` command;
its pid goes into the state dir, which is how ``down`` and ``status`` find it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import structlog

from hotline_link.asterisk.layout import SiteLayout
from hotline_link.core.errors import SandboxError
from hotline_link.core.net import is_loopback

log = structlog.get_logger(__name__)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False


def read_pid(pid_file: Path, expect: str) -> int | None:
    """The pid in ``pid_file`` if that process is alive and its command line contains
    ``expect`` (a stale file whose pid was reused by another program is not ours)."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, ValueError):
        return None
    return pid if expect in cmdline and pid_alive(pid) else None


SERVER_NICE = -10  # the PBXs and Redis stand in for servers of their own


def prioritise(pid: int, nice: int = SERVER_NICE) -> int:
    """Give every thread of ``pid`` the nice value ``nice``; threads it starts later inherit
    it. For a server an older tree started; a new one starts under ``nice`` already. The
    sandbox's Asterisk sites and Redis stand in for machines of their own, as a centre runs
    them (Asterisk's own advice is a raised priority), so a busy test machine (a build, a
    benchmark's SIPp peers, both cores taken) slows the tests down rather than starving the
    servers until their AMI pings go unanswered. The threads changed.

    A thread's nice value only ranks it inside its autogroup (one per session, Linux's
    default for desktops and many VMs): each server starts a session of its own, and that
    group alone weighed as much as a shell running two busy loops, so a PBX stalled up to
    24 s on AMI Ping. The group gets the same nice value (``set_autogroup_nice``)."""
    set_autogroup_nice(pid, nice)
    changed = 0
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return 0
    for tid in tids:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) != nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)  # Linux: one thread per call
                changed += 1
        except ProcessLookupError:
            continue  # a thread that just ended
    return changed


def set_autogroup_nice(pid: int, nice: int) -> bool:
    """Rank the autogroup of ``pid`` (its session's scheduling group) by ``nice``. False
    where the kernel has no autogroups, or we may not raise a priority (not root)."""
    try:
        with open(f"/proc/{pid}/autogroup", "w") as group:
            group.write(f"{nice}\n")
        return True
    except OSError:
        return False


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)  # polling another process's exit; there is no event to await
    return not pid_alive(pid)


def terminate(pid: int, timeout: float = 10.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if wait_gone(pid, timeout):
            return


class AsteriskProcess:
    def __init__(self, rootfs: Path, state_dir: Path, site_id: str) -> None:
        self.rootfs = rootfs
        self.layout = SiteLayout(site_id)
        self.site_id = site_id
        self.pid_file = state_dir / f"asterisk-{site_id}.pid"
        self.console_log = state_dir / f"asterisk-{site_id}.console.log"

    def pid(self) -> int | None:
        return read_pid(self.pid_file, self.layout.config_file)

    def _cli(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["chroot", str(self.rootfs), "/usr/sbin/asterisk", "-C", self.layout.config_file,
             "-rx", command], capture_output=True, text=True, timeout=timeout)

    def cli(self, command: str, timeout: float = 30.0) -> str:
        """``asterisk -rx``; 30 s, as a loaded machine (both cores busy) needs to start it."""
        try:
            done = self._cli(command, timeout)
        except subprocess.TimeoutExpired:
            raise SandboxError(f"site {self.site_id}: CLI '{command}' timed out") from None
        if done.returncode != 0:
            raise SandboxError(f"site {self.site_id}: CLI '{command}' failed: "
                               f"{(done.stderr or done.stdout).strip()[:200]}")
        return done.stdout

    def start(self, boot_timeout: float = 60.0) -> None:
        running = self.pid()
        if running:
            prioritise(running)  # one started by an older tree
            return
        with self.console_log.open("ab") as out:
            proc = subprocess.Popen(
                ["nice", "-n", str(SERVER_NICE), "chroot", str(self.rootfs), "/usr/sbin/asterisk", "-f", "-n",
                 "-C", self.layout.config_file, "-U", "asterisk", "-G", "asterisk"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.pid_file.write_text(f"{proc.pid}\n")
        set_autogroup_nice(proc.pid, SERVER_NICE)  # nice and chroot exec: the pid is Asterisk's
        deadline = time.monotonic() + boot_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SandboxError(f"site {self.site_id}: Asterisk exited with {proc.returncode} "
                                   f"while starting; see {self.console_log}")
            try:
                if self._cli("core waitfullybooted", timeout=deadline - time.monotonic()).returncode == 0:
                    return
            except subprocess.TimeoutExpired:
                break
            time.sleep(0.2)  # the control socket is not there yet; nothing to await
        raise SandboxError(f"site {self.site_id}: Asterisk did not finish booting in "
                           f"{boot_timeout:.0f} s; see {self.console_log}")

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        try:
            self._cli("core stop now", timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if not wait_gone(pid, 10):
            terminate(pid)
        self.pid_file.unlink(missing_ok=True)


class RedisProcess:
    """The sandbox's redis-server, with AUTH (``requirepass``) when given a password. Its
    config file (mode 600, in the state dir) holds the password, never the command line."""

    READY_TIMEOUT_S = 60

    def __init__(self, redis_url: str, state_dir: Path, password: str = "") -> None:
        parsed = urlparse(redis_url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 6379
        self.dir = state_dir / "redis"
        self.pid_file = self.dir / "redis.pid"
        self.conf_file = self.dir / "redis.conf"
        self.password = password

    @property
    def local(self) -> bool:
        return is_loopback(self.host)

    def pid(self) -> int | None:
        return read_pid(self.pid_file, f":{self.port}")

    def _cli(self, *args: str, password: str | None = None, timeout_s: float = 10) -> str:
        """redis-cli's last line; "" when it gave none in ``timeout_s`` (a Redis loading its
        append-only file on a busy machine answers late)."""
        env = {**os.environ, "REDISCLI_AUTH": password} if password else {
            k: v for k, v in os.environ.items() if k != "REDISCLI_AUTH"}
        try:
            done = subprocess.run(["redis-cli", "-h", self.host, "-p", str(self.port), *args],
                                  capture_output=True, text=True, env=env, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return ""
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    def _write_conf(self) -> None:
        # A smaller rewrite threshold than Redis' 64 MB keeps a restart's load short. No fsync
        # each second: on a busy disk it stalled Redis past its clients' 10 s; a restart still
        # keeps every write (SHUTDOWN fsyncs, and the OS keeps what a killed process wrote).
        lines = [f"bind {self.host}", f"port {self.port}", f'dir "{self.dir}"', "appendonly yes",
                 "appendfsync no", "auto-aof-rewrite-min-size 8mb",
                 'save ""', "daemonize yes", f'pidfile "{self.pid_file}"', f'logfile "{self.dir / "redis.log"}"']
        if self.password:
            lines.append(f'requirepass "{self.password}"')
        fd = os.open(self.conf_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(lines) + "\n")

    def start(self) -> None:
        running = self.pid()
        if running:
            prioritise(running)
            self._require_auth()
            self._cli("config", "set", "appendfsync", "no", password=self.password)  # one started before
            return
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._write_conf()
        if shutil.which("redis-server") is None:
            raise SandboxError("redis-server is not installed; run 'make install' first")
        done = subprocess.run(["nice", "-n", str(SERVER_NICE), "redis-server", str(self.conf_file)],
                              capture_output=True, text=True, timeout=15)
        if done.returncode != 0:
            raise SandboxError(f"redis-server did not start: {done.stdout.strip()[:200]}")
        if self._wait_ready(self.password) != "PONG":
            raise SandboxError(f"redis-server on port {self.port} refuses the password of the secrets file")
        started = self.pid()
        if started:
            set_autogroup_nice(started, SERVER_NICE)  # it daemonized into a session of its own

    def _wait_ready(self, password: str) -> str:
        """Poll until Redis answers anything but LOADING or silence (it daemonizes before it
        accepts, then answers LOADING until its file is read); its last answer."""
        deadline = time.monotonic() + self.READY_TIMEOUT_S
        while time.monotonic() < deadline:
            answer = self._cli("ping", password=password, timeout_s=5)
            if answer and "LOADING" not in answer:
                return answer
            time.sleep(0.1)
        raise SandboxError(f"redis-server on port {self.port} was not ready in {self.READY_TIMEOUT_S} s; "
                           f"see {self.dir}/redis.log")

    def _require_auth(self) -> None:
        """A Redis started by an older tree runs without a password: it gets one now. (A
        Redis without one answers PONG to a client that sends none; one with a password
        answers NOAUTH.)"""
        if not self.password:
            self._wait_ready("")
            return
        if self._wait_ready("") == "PONG":
            self._cli("config", "set", "requirepass", self.password)
            self._write_conf()
            log.info("sandbox.redis.password_set", port=self.port)
        if self._wait_ready(self.password) != "PONG":
            raise SandboxError(f"redis-server on port {self.port} refuses the password of the secrets file")

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            terminate(pid)
        self.pid_file.unlink(missing_ok=True)
