import pytest

from devtools.sandbox.rootfs import debian_mirror_from_sources
from hotline_link.core.errors import SandboxError

DEB822 = """Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main

Types: deb
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
"""


def test_deb822_skips_security_and_strips_slash():
    assert debian_mirror_from_sources({"debian.sources": DEB822}) == "http://mirror.example/debian"


def test_one_line_format_with_options():
    text = "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main contrib\n"
    assert debian_mirror_from_sources({"sources.list": text}) == "http://m.example/debian"


def test_disabled_files_and_other_archives_are_ignored():
    texts = {"nodesource.sources.disabled": DEB822,
             "other.list": "deb https://apt.example/repo stable main\n"}
    with pytest.raises(SandboxError, match="HOTLINE_DEBIAN_MIRROR"):
        debian_mirror_from_sources(texts)


def test_disabled_paragraph_is_ignored():
    text = DEB822.replace("Suites: bookworm bookworm-updates", "Suites: bookworm\nEnabled: no")
    with pytest.raises(SandboxError):
        debian_mirror_from_sources({"debian.sources": text})
