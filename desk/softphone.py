"""What an agent's phone registers with. A site's ``webrtc_agents`` use the browser: the
desk page's JsSIP registers over SIP over secure WebSocket with the agent's own SIP
password. Any other agent has a desk or desktop softphone; the page then registers nothing
and only controls the calls."""

from __future__ import annotations

from collections.abc import Mapping

from desk.errors import SoftphoneUnconfigured
from desk.schema import SoftphoneConfig
from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings, SiteSettings, agent_password, read_secret_file


def softphone(site: SiteSettings, agent: str, secrets: Mapping[str, str]) -> SoftphoneConfig:
    """The agent's phone; ``secrets`` is the secrets file (a browser phone's password). Pure."""
    browser = agent in site.webrtc_agents
    return SoftphoneConfig(
        mode="webrtc" if browser else "sip", ws_url=site.webrtc_url() if browser else None,
        sip_uri=f"sip:{agent}@{site.host}", authorization_user=agent,
        password=agent_password(secrets, site.id, agent) if browser else None,
        display_name=f"{site.id} {agent}")


def softphone_of(settings: Settings, site: SiteSettings, agent: str) -> SoftphoneConfig:
    """The agent's phone, its password read from the secrets file now (the sandbox may have
    made it after the server started): 503 softphone_unconfigured without one."""
    try:
        secrets = read_secret_file(settings.secrets_file) if agent in site.webrtc_agents else {}
        return softphone(site, agent, secrets)
    except ConfigError as exc:  # its message names the file or key, never a secret
        raise SoftphoneUnconfigured(f"agent {agent}'s browser phone: {exc}") from None
