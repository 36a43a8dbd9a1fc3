"""The sandbox's two deployments (双网双中心, issue 17), beside its one-server layout.

On the same three Asterisk sites, ``sandbox up`` also prepares what two agencies run:

- 12345's: sites 12345 and remote, a Redis of its own, FastAGI 4573, HTTP 8080;
- 110's: site 110, a Redis of its own, FastAGI 4574, HTTP 8081.

Each has a state directory of its own (``deployments/<platform>`` in the sandbox's) with its
``config.toml``, ``secrets.toml`` and ``tokens.toml``, holding only what that agency holds:
its sites' AMI secret, its Redis password, its agents' SIP passwords and its tokens; both
sides hold the push and exchange keys of both directions (each signs with one and verifies
the other) and the units' secrets. ``hotline-link --config <dir>/config.toml serve`` runs
one. Site 110's dialplan asks FastAGI 4574 first, then 4573 (``SiteSettings.agi``), so the
one-server layout still works on the same sites when 110's server is not running.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hotline_link.core.settings import (
    Settings,
    SiteSettings,
    agent_password_key,
    ami_secret_key,
    push_secret_key,
)
from hotline_link.web.auth import sandbox_token, write_sandbox_tokens
from knowledge.config import PEER_TOKEN_SECRET as KNOWLEDGE_PEER_TOKEN


@dataclass(frozen=True)
class DeploymentPlan:
    platform: str
    sites: tuple[str, ...]
    redis_port: int
    agi_port: int
    http_port: int


PLANS = (DeploymentPlan("12345", ("12345", "remote"), 26380, 4573, 8080),
         DeploymentPlan("110", ("110",), 26381, 4574, 8081))


def plan_of(platform: str) -> DeploymentPlan:
    return next(plan for plan in PLANS if plan.platform == platform)


def peer_of(plan: DeploymentPlan) -> DeploymentPlan:
    return next(other for other in PLANS if other is not plan)


def deployment_dir(state_dir: Path, platform: str) -> Path:
    return state_dir / "deployments" / platform


def load_deployments(state_dir: Path) -> dict[str, Settings]:
    """The two deployments' settings, as ``sandbox up`` wrote them, by platform."""
    from hotline_link.app import load_config  # the app and its plugins, only when asked

    return {plan.platform: load_config(deployment_dir(state_dir, plan.platform) / "config.toml", env={})
            for plan in PLANS}


def redis_url(plan: DeploymentPlan) -> str:
    return f"redis://127.0.0.1:{plan.redis_port}/0"


def redis_password_key(platform: str) -> str:
    """The sandbox's own secrets-file entry of a deployment's Redis password."""
    return f"redis_password_deployment_{platform}"


def exchange_key(from_platform: str, to_platform: str) -> str:
    """A key id names one key, so each direction's has its own: ``sandbox-<from>``."""
    return f"exchange_key_{from_platform}_to_{to_platform}_sandbox-{from_platform}"


def wanted_secrets() -> dict[str, int]:
    """The entries the sandbox's own secrets file holds for the two deployments, and the
    length of each one's random text (``secrets.token_urlsafe``)."""
    wanted = {ami_secret_key("110"): 24}  # 110's site opens its AMI to 110's deployment only
    wanted.update({redis_password_key(plan.platform): 24 for plan in PLANS})
    wanted.update({exchange_key(a.platform, b.platform): 32 for a in PLANS for b in PLANS if a is not b})
    return wanted


def deployment_secrets(plan: DeploymentPlan, shared: Mapping[str, str], settings: Settings) -> dict[str, str]:
    """What the deployment's own secrets file holds, taken from the sandbox's."""
    sites = [settings.site(site_id) for site_id in plan.sites]
    own: dict[str, str] = {"redis_password": shared[redis_password_key(plan.platform)]}
    for site in sites:
        if ami_secret_key(site.id) in shared:
            own[ami_secret_key(site.id)] = shared[ami_secret_key(site.id)]
        else:
            own["ami_secret"] = shared["ami_secret"]
        own.update({agent_password_key(site.id, a): shared[agent_password_key(site.id, a)] for a in site.agents})
    for a in PLANS:
        for b in PLANS:
            if a is not b:
                own[push_secret_key(a.platform, b.platform)] = shared[push_secret_key(a.platform, b.platform)]
                own[exchange_key(a.platform, b.platform)] = shared[exchange_key(a.platform, b.platform)]
    own.update({k: v for k, v in shared.items() if k.startswith("unit_")})  # the units' PINs and webhook secrets
    if "12345" in plan.sites and "sms_secret" in shared:  # 12345's SMS gateway (网上12345's SMS channel)
        own["sms_secret"] = shared["sms_secret"]
    return own


def _site_table(site: SiteSettings) -> str:
    lines = ["[[sites]]", f"id = {json.dumps(site.id)}", f"intake = {json.dumps(site.intake)}",
             f"sip_port = {site.sip_port}", f"ami_port = {site.ami_port}", f"rtp_start = {site.rtp_start}",
             f"rtp_end = {site.rtp_end}", f"agents = {json.dumps(list(site.agents))}",
             f"host = {json.dumps(site.host)}"]
    if site.agi:
        lines.append(f"agi = {json.dumps(list(site.agi))}")
    if site.webrtc_agents:  # the browser phones of the desk page
        lines += [f"webrtc_agents = {json.dumps(list(site.webrtc_agents))}", f"wss_port = {site.wss_port}"]
    return "\n".join(lines) + "\n"


def deployment_config(plan: DeploymentPlan, settings: Settings) -> str:
    """The deployment's config.toml: its sites, its Redis, its ports, the other as its
    exchange peer. Asterisk's sounds and the sandbox root stay the sandbox's."""
    directory = deployment_dir(settings.state_dir, plan.platform)
    public = settings.public_network_site if settings.public_network_site in plan.sites else plan.sites[0]
    remote = settings.remote_seat_site if settings.remote_seat_site in plan.sites else ""
    peer = peer_of(plan)
    head = [f"# the sandbox's {plan.platform} deployment, written by 'hotline-link sandbox up'",
            f"state_dir = {json.dumps(str(directory))}", f"cache_dir = {json.dumps(str(settings.cache_dir))}",
            f"redis_url = {json.dumps(redis_url(plan))}", f"agi_port = {plan.agi_port}",
            f"http_port = {plan.http_port}", f"public_network_site = {json.dumps(public)}",
            f"remote_seat_site = {json.dumps(remote)}",
            ""]
    tail = ["[exchange]", f'exchange_peer_url = "http://127.0.0.1:{peer.http_port}"',
            "exchange_allow_http_loopback = true", ""]
    return "\n".join(head) + "\n".join(_site_table(settings.site(s)) for s in plan.sites) + "\n" + "\n".join(tail)


def _write_private(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(partial, path)


def write_deployments(settings: Settings, shared: Mapping[str, str]) -> list[Path]:
    """Each deployment's directory (mode 700) with its config, secrets and tokens; the
    config paths. Tokens already written are kept (a running server still accepts them)."""
    written = []
    for plan in PLANS:
        directory = deployment_dir(settings.state_dir, plan.platform)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory.chmod(0o700)
        write_sandbox_tokens(directory / "tokens.toml",
                             [a for s in plan.sites for a in settings.site(s).agents])
    for plan in PLANS:
        directory = deployment_dir(settings.state_dir, plan.platform)
        _write_private(directory / "config.toml", deployment_config(plan, settings))
        own = deployment_secrets(plan, shared, settings)
        # the knowledge base asks the other deployment with the peer token that one issued
        own[KNOWLEDGE_PEER_TOKEN] = sandbox_token(deployment_dir(settings.state_dir, peer_of(plan).platform)
                                                  / "tokens.toml", role="peer")
        _write_private(directory / "secrets.toml", "".join(f"{k} = {json.dumps(v)}\n" for k, v in own.items()))
        written.append(directory / "config.toml")
    return written
