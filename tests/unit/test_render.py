import re
from dataclasses import replace

import pytest

from hotline_link.asterisk.render import render_site, render_text, role_of
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings
from tests.helpers import agent_passwords

MODULES = "/usr/lib/x86_64-linux-gnu/asterisk/modules"


def test_missing_variable_names_file_and_line():
    with pytest.raises(ConfigError, match=r"^pjsip.conf:2: template variable 'sip_port' has no value$"):
        render_text("[t]\nbind=127.0.0.1:{{ sip_port }}\n", {}, "pjsip.conf")


def test_asterisk_variables_are_left_alone():
    assert render_text("Dial(${ROUTE},{{t}})", {"t": 30}, "x") == "Dial(${ROUTE},30)"


def test_missing_template_file_is_a_config_error(tmp_path):
    settings = Settings(ami_secret="x")
    with pytest.raises(ConfigError, match="does not exist"):
        render_site(settings, settings.sites[0], MODULES, agent_passwords(settings.sites[0]), template_dir=tmp_path)


@pytest.fixture
def rendered():
    settings = Settings(ami_secret="amisecret")
    return {s.id: render_site(settings, s, MODULES, agent_passwords(s)) for s in settings.sites}


def test_every_placeholder_is_filled(rendered):
    for files in rendered.values():
        for name, text in files.items():
            assert "{{" not in text, name


def test_each_site_listens_on_its_own_ports_on_loopback(rendered):
    assert "bind = 127.0.0.1:25060" in rendered["12345"]["pjsip.conf"]
    assert "port = 25039" in rendered["110"]["manager.conf"]
    assert "bindaddr = 127.0.0.1" in rendered["110"]["manager.conf"]
    assert "systemname = hl110" in rendered["110"]["asterisk.conf"]


def test_trunks_identify_each_peer_by_ip_and_port(rendered):
    pjsip = rendered["12345"]["pjsip.conf"]
    assert "match=127.0.0.1:25070" in pjsip and "match=127.0.0.1:25080" in pjsip
    assert "trunk-12345" not in pjsip  # no trunk to itself


def test_center_dialplan_falls_back_to_ringing_all_seats(rendered):
    ext = rendered["12345"]["extensions.conf"]
    assert "Gosub(hl-agi,s,1(route,${SITE}))" in ext
    assert "HL_AGI = agi://127.0.0.1:4573\n" in rendered["12345"]["extensions_common.conf"]
    assert re.search(r"n\(fallback\),Dial\(\$\{RING_ALL\}", ext)
    assert "RING_ALL = PJSIP/1001&PJSIP/1002" in rendered["12345"]["extensions_common.conf"]


def test_seat_site_has_no_intake(rendered):
    settings = Settings()
    assert role_of(settings.site("remote")) == "seats"
    assert "intake" not in rendered["remote"]["extensions.conf"].split("[from-trunk]")[1]
    common = rendered["remote"]["extensions_common.conf"]
    assert "exten => 3001,1,GotoIf(" in common and "${DEVICE_STATE(PJSIP/3001)}" in common
    assert " same => n,Dial(PJSIP/3001," in common  # a seat on a call answers busy, else rings


def test_app_queue_baseline_has_every_local_seat_and_the_remote_ring_group(rendered):
    assert "member => PJSIP/1020,0,agent 1020,PJSIP/1020" in rendered["12345"]["queues.conf"]
    assert "REMOTE_ALL = PJSIP/3001@trunk-remote&" in rendered["12345"]["extensions_common.conf"]
    assert "REMOTE_ALL = \n" in rendered["remote"]["extensions_common.conf"]
    assert "exten => 110,1,Dial(PJSIP/110@trunk-110" in rendered["12345"]["extensions_common.conf"]


def test_a_site_asks_its_own_fastagi_servers_in_order_with_its_own_ami_secret():
    settings = Settings(ami_secret="shared", site_ami_secrets={"110": "police-only"})
    police = replace(settings.site("110"), agi=("127.0.0.1:4574", "127.0.0.1:4573"))
    settings = replace(settings, sites=(settings.site("12345"), police, settings.site("remote")))
    files = {s.id: render_site(settings, s, MODULES, agent_passwords(s)) for s in settings.sites}
    assert "HL_AGI = agi://127.0.0.1:4574|agi://127.0.0.1:4573\n" in files["110"]["extensions_common.conf"]
    assert "HL_AGI = agi://127.0.0.1:4573\n" in files["12345"]["extensions_common.conf"]
    assert "secret = police-only" in files["110"]["manager.conf"]
    assert "police-only" not in files["12345"]["manager.conf"] and "secret = shared" in files["12345"]["manager.conf"]
    assert (settings.ami_secret_for("110"), settings.ami_secret_for("remote")) == ("police-only", "shared")



def test_the_phones_own_transfer_key_goes_through_hotline_link(rendered):
    center, seats = rendered["12345"], rendered["remote"]
    assert "set_var = TRANSFER_CONTEXT=phone-transfer" in center["pjsip.conf"]
    assert "Gosub(hl-agi,s,1(phone_transfer,${SITE},${EXTEN}))" in center["extensions.conf"]
    assert "[phone-transfer]" in seats["extensions.conf"]  # a seat site has the context too
    assert "phone_transfer" not in seats["extensions.conf"]  # ...dialling as the agent would


def test_the_desks_consult_dials_exact_numbers(rendered):
    common = rendered["12345"]["extensions_common.conf"]
    section = common.split("[desk-consult]", 1)[1].split("\n[", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("exten")]
    assert "exten => 110,1,Goto(agent-calls-out,${EXTEN},1)" in lines
    assert not any("_" in line.split(",")[0] for line in lines)  # no pattern: no digit timeout
