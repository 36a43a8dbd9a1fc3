"""Each agent of each site has its own SIP password: one softphone's settings register
that seat and no other (the sandbox test tries it on Asterisk)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from hotline_link.asterisk.render import render_site
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings, agent_password, agent_password_key
from tests.helpers import agent_passwords

MODULES = "/usr/lib/x86_64-linux-gnu/asterisk/modules"


def auth_passwords(pjsip_conf: str) -> dict[str, str]:
    """{auth section: password} as Asterisk would read them (templates applied)."""
    found, section = {}, None
    for line in pjsip_conf.splitlines():
        head = re.match(r"\[([^\]]+)\]", line)
        if head:
            section = head.group(1)
        elif line.replace(" ", "").startswith("password=") and section:
            found[section] = line.split("=", 1)[1].strip()
    return found


def test_every_agent_auth_has_its_own_password_and_no_template_shares_one():
    settings = Settings(ami_secret="x")
    for site in settings.sites:
        pjsip = render_site(settings, site, MODULES, agent_passwords(site))["pjsip.conf"]
        passwords = auth_passwords(pjsip)
        assert passwords == {f"{a}-auth": agent_passwords(site)[a] for a in site.agents}
        assert len(set(passwords.values())) == len(site.agents)


def test_an_agent_without_a_password_is_a_config_error():
    settings = Settings(ami_secret="x")
    site = settings.sites[0]
    partial = dict(list(agent_passwords(site).items())[1:])
    with pytest.raises(ConfigError, match=f"no SIP password for agents {site.agents[0]}"):
        render_site(settings, site, MODULES, partial)


@pytest.mark.parametrize("value", ["short", "x" * 11, "good-but;comment", "line\nbreak-password", "[section]-pass",
                                   "x" * 129])
def test_a_password_that_is_weak_or_would_break_pjsip_conf_is_refused(value):
    with pytest.raises(ConfigError, match="agent_password_12345_1001"):
        agent_password({agent_password_key("12345", "1001"): value}, "12345", "1001")


def test_the_secrets_file_names_each_agent_of_each_site():
    secrets = {agent_password_key("110", "2001"): "A" * 16}
    assert agent_password(secrets, "110", "2001") == "A" * 16
    with pytest.raises(ConfigError, match="no agent_password_12345_2001"):
        agent_password(secrets, "12345", "2001")


def test_recording_follows_each_sites_setting():
    settings = Settings(ami_secret="x")
    site = settings.site("12345")
    common = render_site(settings, site, MODULES, agent_passwords(site))["extensions_common.conf"]
    assert "RECORD_CALLS = yes" in common and "/spool/recordings/${CHANNEL(linkedid)}-" in common
    quiet = dataclasses.replace(site, record_calls=False)
    common = render_site(settings, quiet, MODULES, agent_passwords(quiet))["extensions_common.conf"]
    assert "RECORD_CALLS = no" in common
