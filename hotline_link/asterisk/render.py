"""Render the Asterisk config templates in ``asterisk_conf/`` for one site.

Templates use ``{{ name }}`` placeholders (Asterisk's own ``${VAR}`` must stay as it is).
A placeholder with no value is an error naming the file and line, never an empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path

from hotline_link.asterisk.layout import SiteLayout
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings, SiteSettings, qualify_timing

_PLACEHOLDER = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")

COMMON_TEMPLATES = ("asterisk.conf", "modules.conf", "logger.conf", "manager.conf",
                    "pjsip.conf", "rtp.conf", "extensions_common.conf", "cdr.conf", "cel.conf",
                    "acl.conf", "udptl.conf", "ccss.conf", "pjproject.conf", "features.conf",
                    "indications.conf", "confbridge.conf", "musiconhold.conf", "queues.conf",
                    "queuerules.conf", "extensions_ivr.conf", "extensions_outbound.conf",
                    "extensions_feedback.conf", "http.conf")
HANDSET_PORT_OFFSET = 9  # the sandbox's handsets (duty phones, callers called back) answer on
                         # the public network site's SIP port + this, on its host


def render_text(text: str, context: Mapping[str, object], source: str) -> str:
    """Replace every placeholder; raise ConfigError at the first one without a value."""
    for lineno, line in enumerate(text.splitlines(), start=1):
        for match in _PLACEHOLDER.finditer(line):
            if match.group(1) not in context:
                raise ConfigError(
                    f"{source}:{lineno}: template variable '{match.group(1)}' has no value")
    return _PLACEHOLDER.sub(lambda m: str(context[m.group(1)]), text)


def read_template(name: str, template_dir: Path | None = None) -> str:
    if template_dir is not None:
        path = template_dir / name
        if not path.is_file():
            raise ConfigError(f"template {path} does not exist")
        return path.read_text(encoding="utf-8")
    try:
        return resources.files("asterisk_conf").joinpath(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"template asterisk_conf/{name} does not exist") from None


def role_of(site: SiteSettings) -> str:
    """A site with an intake number is a call center; one without only lends seats."""
    return "center" if site.intake else "seats"


def _agent_sections(site: SiteSettings, passwords: Mapping[str, str]) -> str:
    """One endpoint, auth and AOR per agent, each auth with that agent's own password; a
    browser phone's endpoint speaks WebRTC (DTLS-SRTP, ICE) over the WSS transport."""
    blocks = []
    for agent in site.agents:
        template = "agent-endpoint,webrtc-endpoint" if agent in site.webrtc_agents else "agent-endpoint"
        blocks.append(
            f"[{agent}]({template})\nauth={agent}-auth\naors={agent}\n"
            f"callerid=\"agent {agent}\" <{agent}>\n\n"
            f"[{agent}-auth](agent-auth)\nusername={agent}\npassword={passwords[agent]}\n\n"
            f"[{agent}](agent-aor)\n")
    return "\n".join(blocks)


def _trunk_sections(settings: Settings, site: SiteSettings) -> str:
    blocks = []
    for peer in settings.sites:
        if peer.id == site.id:
            continue
        name = f"trunk-{peer.id}"
        blocks.append(
            f"[{name}](trunk-endpoint)\naors={name}\n\n"
            f"[{name}]\ntype=aor\ncontact=sip:{peer.host}:{peer.sip_port}\nqualify_frequency=5\nqualify_timeout=2\n\n"
            f"[{name}]\ntype=identify\nendpoint={name}\nmatch={peer.host}:{peer.sip_port}\n")
    return "\n".join(blocks)


def _routes_out(settings: Settings, site: SiteSettings, duty_numbers: Sequence[str]) -> dict[str, str]:
    """{number: trunk} for every number this site reaches over a trunk: the other sites'
    intakes and agents, and directory numbers (119, 120, utilities) and the units' duty
    phones through the site that stands for the public network."""
    routes: dict[str, str] = {}
    for peer in settings.sites:
        if peer.id != site.id:
            for number in ((peer.intake,) if peer.intake else ()) + peer.agents:
                routes[number] = f"trunk-{peer.id}"
    if settings.public_network_site != site.id:
        for number in settings.directory.values():
            routes.setdefault(number, f"trunk-{settings.public_network_site}")
        for number in duty_numbers:
            routes.setdefault(number, f"trunk-{settings.public_network_site}")
    return routes


def handset_port(settings: Settings) -> int:
    """Where the sandbox's handsets answer (one SIPp UAS stands for all of them)."""
    return settings.site(settings.public_network_site).sip_port + HANDSET_PORT_OFFSET


def _handset_section(settings: Settings, site: SiteSettings) -> str:
    """On the public network site: the endpoint its handset numbers are dialled on."""
    if site.id != settings.public_network_site:
        return ""
    return (f"\n[sandbox-handsets](trunk-endpoint)\naors=sandbox-handsets\n\n"
            f"[sandbox-handsets]\ntype=aor\ncontact=sip:{site.host}:{handset_port(settings)}\n")


def _dial_sites(settings: Settings, site: SiteSettings, duty_numbers: Sequence[str]) -> str:
    """Gosub targets: dial the number over its trunk and return with DIALSTATUS set."""
    lines = []
    for number, trunk in _routes_out(settings, site, duty_numbers).items():
        lines.append(f"exten => {number},1,Dial(PJSIP/{number}@{trunk},${{RING_TIMEOUT}},"
                     "b(predial-headers^s^1))")
        lines.append(" same => n,Return()")
    return "\n".join(lines)


def _to_sites(settings: Settings, site: SiteSettings, duty_numbers: Sequence[str]) -> str:
    """What an agent dials directly: the same numbers, hanging up after the call."""
    lines = []
    for number in _routes_out(settings, site, duty_numbers):
        lines.append(f"exten => {number},1,Gosub(dial-sites,{number},1)")
        lines.append(" same => n,Hangup()")
    return "\n".join(lines)


def _desk_consult(settings: Settings, site: SiteSettings, duty_numbers: Sequence[str]) -> str:
    """The desk's warm transfer (AMI Atxfer) dials into this context: exact numbers only, so
    Asterisk sees at once that the number is complete (with a pattern it would wait the
    transfer digit timeout for more digits)."""
    return "\n".join(f"exten => {number},1,Goto(agent-calls-out,${{EXTEN}},1)"
                     for number in _routes_out(settings, site, duty_numbers))


def _other_platform(settings: Settings, site: SiteSettings) -> str:
    """The intake the in-call key *1 transfers to: the other call center's (12345 <-> 110)."""
    others = [s.intake for s in settings.sites if s.intake and s.id != site.id]
    return others[0] if site.intake and others else ""


def _agent_extensions(site: SiteSettings) -> str:
    """Dialling an agent's number: a seat takes one call at a time, so a seat already on a
    call answers busy (a remote seat lent to two centers must not get two callers)."""
    lines = []
    for agent in site.agents:
        lines.append(f"exten => {agent},1,GotoIf($[${{REGEX(\"^(INUSE|BUSY|RINGING|RINGINUSE|ONHOLD)$\" "
                     f"${{DEVICE_STATE(PJSIP/{agent})}})}}]?busy)")
        lines.append(f" same => n,Dial(PJSIP/{agent},${{RING_TIMEOUT}},b(predial-headers^s^1))")
        lines.append(" same => n,Hangup()")
        lines.append(" same => n(busy),Busy(2)")
    return "\n".join(lines)


def _queue_members(site: SiteSettings) -> str:
    return "\n".join(f"member => PJSIP/{a},0,agent {a},PJSIP/{a}" for a in site.agents)


def _remote_all(settings: Settings, site: SiteSettings) -> str:
    """Every seat of the remote site, over the trunk (the app_queue baseline's overflow)."""
    remote = next((s for s in settings.sites if s.id == settings.remote_seat_site), None)
    if remote is None or remote.id == site.id:
        return ""
    return "&".join(f"PJSIP/{a}@trunk-{remote.id}" for a in remote.agents)


# SIP over WebSocket rides Asterisk's HTTP server (http.conf, which binds the address):
# a ws transport opens no socket of its own
_WSS_TRANSPORT = """[transport-wss]
type = transport
protocol = wss
bind = {host}
"""


def site_context(settings: Settings, site: SiteSettings, module_dir: str,
                 agent_passwords: Mapping[str, str], duty_numbers: Sequence[str] = ()) -> dict[str, object]:
    layout = SiteLayout(site.id)
    return {
        "site_id": site.id,
        "system_name": f"hl{site.id}",
        "site_root": layout.root,
        "module_dir": module_dir,
        "sip_host": site.host,
        "sip_port": site.sip_port,
        "ami_port": site.ami_port,
        "ami_username": settings.ami_username,
        "ami_secret": settings.ami_secret_for(site.id),
        "rtp_start": site.rtp_start,
        "rtp_end": site.rtp_end,
        "intake": site.intake,
        "agi_urls": "|".join(f"agi://{address}" for address in settings.agi_addresses(site)),
        "ring_timeout": 30,
        "ring_all": "&".join(site.agent_device(a) for a in site.agents),
        "qualify_frequency": qualify_timing(settings.seat_liveness_s)[0],
        "qualify_timeout": qualify_timing(settings.seat_liveness_s)[1],
        "rtp_timeout": settings.media_timeout_s,
        "rtp_timeout_hold": settings.media_timeout_hold_s,
        "agent_sections": _agent_sections(site, agent_passwords),
        "trunk_sections": _trunk_sections(settings, site) + _handset_section(settings, site),
        "public_trunk": f"trunk-{settings.public_network_site}",
        "dial_sites": _dial_sites(settings, site, duty_numbers),
        "to_sites": _to_sites(settings, site, duty_numbers),
        "desk_consult": _desk_consult(settings, site, duty_numbers),
        "other_platform": _other_platform(settings, site),
        "agent_extensions": _agent_extensions(site),
        "queue_members": _queue_members(site),
        "remote_all": _remote_all(settings, site),
        "voice_notes_dir": layout.voice_notes,
        "recordings_dir": layout.recordings,
        "record_calls": "yes" if site.record_calls else "no",
        "http_enabled": "yes" if site.wss_port else "no",
        "http_port": site.wss_port + 1 if site.wss_port else 0,
        "wss_port": site.wss_port,
        "tls_cert": f"{layout.root}/tls/asterisk.crt",
        "tls_key": f"{layout.root}/tls/asterisk.key",
        "wss_transport": _WSS_TRANSPORT.format(host=site.host) if site.wss_port else "",
    }


def render_site(settings: Settings, site: SiteSettings, module_dir: str,
                agent_passwords: Mapping[str, str], template_dir: Path | None = None,
                duty_numbers: Sequence[str] = ()) -> dict[str, str]:
    """Return {file name in the site's etc dir: rendered text}; ``agent_passwords`` maps
    each of the site's agents to its own SIP password; ``duty_numbers`` are the handling
    units' phones, reached through the public network site."""
    missing = [a for a in site.agents if a not in agent_passwords]
    if missing:
        raise ConfigError(f"site {site.id}: no SIP password for agents {', '.join(missing[:5])}")
    context = site_context(settings, site, module_dir, agent_passwords, duty_numbers)
    out = {name: render_text(read_template(name, template_dir), context, name)
           for name in COMMON_TEMPLATES}
    role_template = f"extensions_{role_of(site)}.conf"
    out["extensions.conf"] = render_text(read_template(role_template, template_dir), context,
                                         role_template)
    return out
