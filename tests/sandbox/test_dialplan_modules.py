"""Every application and function the rendered dialplans use is loaded in the running
Asterisk (``asterisk_conf/modules.conf`` loads modules one by one: a missing one is found
only when a call reaches that line, as a warning in Asterisk's log and a call going the
wrong way). Asked of each site's CLI (``core show applications`` / ``functions``): the
server's AMI user has no ``command`` privilege."""

from __future__ import annotations

import asyncio
import re

from devtools.sandbox import Sandbox
from hotline_link.core.settings import read_secret_file

APP = re.compile(r"(?:=>\s*(?:n|\d+|[^,\s]+,\s*(?:n|\d+))(?:\([\w-]+\))?,\s*|[?:]\s*)([A-Z][A-Za-z]+)\(")
FUNCTION = re.compile(r"\$\{([A-Z][A-Z_]+)\(")


def used(text: str) -> tuple[set[str], set[str]]:
    code = "\n".join(line.split(";", 1)[0] for line in text.splitlines())  # comments out
    return set(APP.findall(code)), set(FUNCTION.findall(code))


def test_the_dialplan_reader_finds_applications_and_functions():
    apps, functions = used("exten => s,1,Answer()\n same => n(ask),Read(X,${FB_PROMPT},20)\n"
                           " same => n,ExecIf($[${LEN(${X})} > 0]?UserEvent(A):Hangup())\n"
                           "exten => _X.,1,GotoIf(${DIALPLAN_EXISTS(a,${EXTEN},1)}?b) ; Playback(no)\n")
    assert apps == {"Answer", "Read", "ExecIf", "UserEvent", "Hangup", "GotoIf"}
    assert functions == {"LEN", "DIALPLAN_EXISTS"}


async def test_every_application_and_function_the_dialplans_use_is_loaded(server):
    secrets = read_secret_file(server.settings.secrets_file)
    rendered = Sandbox(server.settings).render_site_configs(secrets)
    for site, files in rendered.items():
        apps, functions = set(), set()
        for name, text in files.items():
            if name.startswith("extensions"):
                found = used(text)
                apps |= found[0]
                functions |= found[1]
        assert "Dial" in apps and "CHANNEL" in functions, (site, apps, functions)  # the reader found them
        loaded_apps = await _names(server, site, "core show applications")
        loaded_functions = await _names(server, site, "core show functions")
        # application names are case-insensitive (the CLI lists BackGround, PlayTones)
        assert {a.lower() for a in apps} - {a.lower() for a in loaded_apps} == set(), \
            f"site {site}: applications not loaded"
        assert functions - loaded_functions == set(), f"site {site}: functions not loaded"


async def _names(server, site: str, command: str) -> set[str]:
    output = await asyncio.to_thread(Sandbox(server.settings).asterisk(site).cli, command)
    return {m.group(1) for m in re.finditer(r"^\s*([A-Za-z_]+)[:\s]", output, re.M)}
