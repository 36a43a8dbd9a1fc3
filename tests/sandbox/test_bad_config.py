"""Bad configuration ends in one clear error line (exit 2), never a traceback, and starts
nothing."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from tests.helpers import free_tcp_port


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hotline_link.cli", *args],
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **env})


def assert_one_error_line(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("hotline-link: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture
def isolated_env(sandbox_settings, tmp_path: Path) -> dict[str, str]:
    """The real cached root, but a state dir of its own: nothing here touches the sandbox."""
    return {"HOTLINE_STATE_DIR": str(tmp_path / "state"),
            "HOTLINE_CACHE_DIR": str(sandbox_settings.cache_dir)}


def test_missing_template_variable_names_file_and_line(isolated_env, tmp_path):
    templates = tmp_path / "templates"
    shutil.copytree(Path(str(resources.files("asterisk_conf"))), templates,
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    manager = templates / "manager.conf"
    manager.write_text(manager.read_text() + "\n[spare]\nsecret = {{ spare_secret }}\n")
    done = run_cli("sandbox", "up", env={**isolated_env, "HOTLINE_TEMPLATE_DIR": str(templates)})
    line = len(manager.read_text().splitlines())
    assert_one_error_line(done, f"manager.conf:{line}: template variable 'spare_secret' has no value")


def test_port_in_use_is_named_and_nothing_starts(isolated_env, tmp_path):
    config = tmp_path / "ports.toml"
    sip_port, blocker = free_tcp_port(), socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", sip_port))
    config.write_text(
        f'redis_url = "redis://127.0.0.1:{free_tcp_port()}/0"\npublic_network_site = "12345"\n'
        f'[[sites]]\nid = "12345"\nintake = "12345"\nsip_port = {sip_port}\n'
        f'ami_port = {free_tcp_port()}\nrtp_start = 40000\nrtp_end = 40100\nagents = ["1001"]\n')
    try:
        done = run_cli("--config", str(config), "sandbox", "up", env=isolated_env)
    finally:
        blocker.close()
    assert_one_error_line(done, f"port {sip_port}/udp for site 12345 SIP is already in use")
    assert not list((tmp_path / "state").glob("*.pid"))


def test_root_not_built_yet(tmp_path):
    done = run_cli("sandbox", "up", "--no-build",
                   env={"HOTLINE_CACHE_DIR": str(tmp_path / "empty-cache"),
                        "HOTLINE_STATE_DIR": str(tmp_path / "state")})
    assert_one_error_line(done, "not built yet", str(tmp_path / "empty-cache"))


def test_serve_without_ami_secret(tmp_path):
    done = run_cli("serve", env={"HOTLINE_STATE_DIR": str(tmp_path)})
    assert_one_error_line(done, "no AMI secret")


def test_broken_toml(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("agi_port = [\n")
    done = run_cli("--config", str(config), "sandbox", "status", env={})
    assert_one_error_line(done, str(config))
