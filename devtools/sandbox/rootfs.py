"""The Asterisk 22 root file system: a Debian sid minbase debootstrap, cached.

Asterisk 22 is not packaged for bookworm but sid has it, and sid's build needs a newer
libc than the host's, so it runs in a chroot. The root is built once into the cache dir
(outside any work tree) and reused; a second ``sandbox up`` takes seconds.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import structlog

from hotline_link.core.errors import SandboxError

log = structlog.get_logger(__name__)

READY_MARK = ".hotline-link-rootfs"
APT_SOURCES = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))


def _deb822_mirrors(text: str) -> list[str]:
    found = []
    for paragraph in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in paragraph.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if fields.get("enabled", "yes").lower() == "no":
            continue
        if "deb" not in fields.get("types", "").split():
            continue
        if "main" not in fields.get("components", "").split():
            continue
        suites = fields.get("suites", "").split()
        if suites and all(s.endswith("-security") for s in suites):
            continue
        found.extend(fields.get("uris", "").split()[:1])
    return found


def _one_line_mirrors(text: str) -> list[str]:
    found = []
    for line in text.splitlines():
        parts = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
        if len(parts) >= 4 and parts[0] == "deb" and "main" in parts[3:] \
                and not parts[2].endswith("-security"):
            found.append(parts[1])
    return found


def debian_mirror_from_sources(texts: dict[str, str]) -> str:
    """Pick the Debian archive URI from apt source files ({file name: text})."""
    for name, text in sorted(texts.items()):
        if name.endswith(".sources"):
            mirrors = _deb822_mirrors(text)
        elif name.endswith(".list"):
            mirrors = _one_line_mirrors(text)
        else:
            continue
        for uri in mirrors:
            if "debian" in uri and "security" not in uri:
                return uri.rstrip("/")
    raise SandboxError("no Debian archive found in this machine's apt sources; "
                       "set HOTLINE_DEBIAN_MIRROR")


def read_apt_sources() -> dict[str, str]:
    texts: dict[str, str] = {}
    for path in APT_SOURCES:
        files = sorted(path.iterdir()) if path.is_dir() else [path]
        for f in files:
            if f.is_file():
                texts[f.name] = f.read_text(encoding="utf-8", errors="replace")
    return texts


def is_ready(root: Path) -> bool:
    return (root / READY_MARK).is_file() and (root / "usr/sbin/asterisk").is_file()


def module_dir(root: Path) -> str:
    """The Asterisk module dir inside the root (its multiarch path differs per machine)."""
    for candidate in sorted((root / "usr/lib").glob("*/asterisk/modules")):
        return "/" + str(candidate.relative_to(root))
    raise SandboxError(f"no Asterisk modules under {root}/usr/lib; rebuild with "
                       "'hotline-link sandbox up --rebuild'")


def ensure_rootfs(root: Path, suite: str, mirror: str, rebuild: bool = False) -> None:
    if is_ready(root) and not rebuild:
        return
    if shutil.which("debootstrap") is None:
        raise SandboxError("debootstrap is not installed; run 'make install' first")
    mirror = mirror or debian_mirror_from_sources(read_apt_sources())
    staging = root.with_name(root.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    log.info("sandbox.rootfs.building", suite=suite, root=str(root))
    started = time.monotonic()
    cmd = ["debootstrap", "--variant=minbase", "--include=asterisk", suite, str(staging), mirror]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SandboxError(f"debootstrap of {suite} failed (exit {done.returncode}): {tail[0]}")
    version = subprocess.run(["chroot", str(staging), "asterisk", "-V"],
                             capture_output=True, text=True).stdout.strip()
    if not version.startswith("Asterisk 22"):
        raise SandboxError(f"the {suite} root brought {version or 'no Asterisk'}, not Asterisk 22")
    (staging / READY_MARK).write_text(version + "\n", encoding="utf-8")
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    log.info("sandbox.rootfs.ready", version=version, seconds=round(time.monotonic() - started, 1))
