"""The desk page as served: ``index.html`` with its stylesheet, JsSIP, its script and its
config inlined (the browser needs no other request that would carry the token), and the
headers that lock it down: a per-response nonce lets the Content-Security-Policy forbid
every other script and style, and connections go to this server and the site's SIP
WebSocket only."""

from __future__ import annotations

from desk.assets import static
from desk.schema import DeskConfig, Platform, SoftphoneConfig
from hotline_link.core.settings import Settings, SiteSettings
from seat_pool.state import SeatState

HOTLINE: Platform = "12345"
POLICE: Platform = "110"


def platform_of(site: SiteSettings) -> Platform:
    """The platform an agent of ``site`` answers for: its own, and the hotline's for a site
    lending remote seats (110 never overflows). Pure."""
    return POLICE if site.id == POLICE else HOTLINE


def desk_config(settings: Settings, site: SiteSettings, agent: str, phone: SoftphoneConfig,
                seat: SeatState | None, wrap_up_s: float) -> DeskConfig:
    platform = platform_of(site)
    other = HOTLINE if platform == POLICE else POLICE
    return DeskConfig(agent=agent, site=site.id, platform=platform, other_platform=other,
                      other_number=settings.directory.get(other), wrap_up_s=wrap_up_s, seat=seat, softphone=phone)


def config_block(config: DeskConfig) -> str:
    """The config as a JSON data block; ``<`` escaped, so no value can end the element."""
    data = config.model_dump_json().replace("<", "\\u003c")
    return f'<script type="application/json" id="desk-config">{data}</script>'


def render(config: DeskConfig, nonce: str, jssip: str) -> str:
    """The page's HTML; ``jssip`` is the bundle (``assets.jssip``), inlined before the page's script."""
    return (static("index.html")
            .replace("<!--STYLE-->", f'<style nonce="{nonce}">\n{static("style.css")}</style>')
            .replace("<!--CONFIG-->", config_block(config))
            .replace("<!--SCRIPT-->", f'<script nonce="{nonce}">\n{jssip}\n</script>\n'
                                      f'<script nonce="{nonce}">\n{static("app.js")}</script>'))


def headers(nonce: str, ws_url: str | None) -> dict[str, str]:
    connect = "'self'" + (f" {ws_url}" if ws_url else "")
    policy = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
              f"connect-src {connect}; media-src 'self' blob:; img-src 'self' data:; base-uri 'none'; "
              "form-action 'none'; frame-ancestors 'none'")
    return {"Content-Security-Policy": policy, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff"}
