"""One typed settings object, read from an optional TOML file and then env vars.

Precedence: defaults < TOML file (``HOTLINE_CONFIG`` or ``--config``) < ``HOTLINE_*`` env.
Secrets (the AMI secret, SIP passwords) are never part of ``repr`` and never logged;
they come from env or from a file that only its owner can read.
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from hotline_link.core.errors import ConfigError
from hotline_link.core.net import is_loopback, url_refusal

DEFAULT_STATE_DIR = Path("/var/lib/hotline-link")
DEFAULT_DIRECTORY = {
    "110": "110",      # 110 报警服务台
    "12345": "12345",  # 12345 政务服务便民热线
    "119": "119",      # fire
    "120": "120",      # ambulance
    "122": "122",      # traffic accidents
    "95598": "95598",  # power supply (供电)
    "12319": "12319",  # urban management and public utilities (城管、水务)
}
DEFAULT_CACHE_DIR = Path("/var/cache/hotline-link")


@dataclass(frozen=True)
class SiteSettings:
    """One Asterisk site: a call center (12345, 110) or a site lending remote seats."""

    id: str
    intake: str  # the number callers dial to reach this platform ("" for a seat-only site)
    sip_port: int
    ami_port: int
    rtp_start: int
    rtp_end: int
    agents: tuple[str, ...]
    host: str = "127.0.0.1"

    def agent_device(self, agent: str) -> str:
        return f"PJSIP/{agent}"


def _default_sites() -> tuple[SiteSettings, ...]:
    return (
        SiteSettings("12345", "12345", 25060, 25038, 30000, 30999,
                     tuple(str(n) for n in range(1001, 1021))),
        SiteSettings("110", "110", 25070, 25039, 31000, 31999,
                     tuple(str(n) for n in range(2001, 2021))),
        SiteSettings("remote", "", 25080, 25040, 32000, 32999,
                     tuple(str(n) for n in range(3001, 3006))),
    )


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:26379/0"
    # Redis AUTH (requirepass); the sandbox writes it to the secrets file and starts its
    # Redis with it: the store holds callers' numbers and jobs the server will sign
    redis_password: str = field(default="", repr=False)
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    agi_max_sessions: int = 2000  # FastAGI sessions at once (callers waiting hold one each)
    # AMI (each site's host) and FastAGI (agi_host) stay on loopback; any other address must
    # be listed here, comma-separated (e.g. Asterisk on another machine of a private network)
    allow_remote_hosts: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    ami_username: str = "hotline"
    ami_secret: str = field(default="", repr=False)
    ami_reconnect_min_s: float = 0.5
    ami_reconnect_max_s: float = 10.0
    ami_ping_interval_s: float = 5.0
    ami_ping_timeout_s: float = 3.0
    seat_claim_ttl_s: int = 20
    wrap_up_s: float = 0.0  # after-call work: a seat gets no new call for this long
    # liveness: a softphone that died without unregistering is offline within seat_liveness_s
    # (Asterisk qualifies every agent contact); an answered call whose media stopped (no RTP:
    # the phone vanished) ends after media_timeout_s, on hold after media_timeout_hold_s
    seat_liveness_s: int = 30
    media_timeout_s: int = 30
    media_timeout_hold_s: int = 300
    log_level: str = "info"
    state_dir: Path = DEFAULT_STATE_DIR
    cache_dir: Path = DEFAULT_CACHE_DIR
    debian_mirror: str = ""  # empty: read from this machine's apt sources
    debian_suite: str = "sid"
    template_dir: str = ""  # empty: the asterisk_conf templates shipped with hotline-link
    sites: tuple[SiteSettings, ...] = field(default_factory=_default_sites)
    # transfer and conference targets: name -> number dialled (config: [directory] table)
    directory: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_DIRECTORY))
    # the site whose trunk reaches numbers that are not ours (119, 120, utility hotlines);
    # in the sandbox the remote site stands in for the public network and answers them
    public_network_site: str = "remote"
    tokens_file: str = ""  # empty: state_dir/tokens.toml
    # where system push sends tickets, per platform (config: [push_targets] table); in the
    # sandbox one server plays both platforms, so both point at its own intake endpoint
    push_targets: dict[str, str] = field(default_factory=lambda: {
        "12345": "http://127.0.0.1:8080/api/intake/push", "110": "http://127.0.0.1:8080/api/intake/push"})
    push_secret: str = field(default="", repr=False)  # no longer used to sign: see push_secrets
    # one HMAC secret per direction (secrets file: push_secret_<from>_to_<to>): the key that
    # signs 12345's pushes to 110 cannot forge 110's to 12345
    push_secrets: dict[str, str] = field(default_factory=dict, repr=False)
    # plain http for pushes and units' webhooks, to a loopback address only (the sandbox,
    # where one server plays both platforms); anything else must be https
    push_allow_http_loopback: bool = True
    # seat skills, agent -> skills (config: [skills] table, "1001" = ["general", "police_desk"]);
    # empty: each site's defaults (seat_pool.skills.default_skills)
    skills: dict[str, tuple[str, ...]] = field(default_factory=dict)
    transfer_ring_s: int = 25  # how long a transferred caller rings the target before coming back
    transfer_wait_s: float = 35.0  # how long POST /transfer waits for the outcome (wait=answer)
    conference_ring_s: int = 25
    # --- handling units (README "Handling units and the closed loop") ---
    linkage_jurisdiction: str = "qidong"  # units directory: linkage/data/units/{name}.csv, or a .csv path
    linkage_config: str = ""  # deadlines, calendar, escalation, repeats (TOML); empty: shipped defaults
    # Asterisk's sounds directory as this host sees it (a dispatch call's summary is written there);
    # empty: the sandbox's
    sounds_dir: str = ""
    # where Asterisk records the units' voice notes ({site}: the site id); empty: the sandbox's
    voice_notes_dir: str = ""
    # calls to a unit's duty phone and 回访 calls (linkage/phone.py): how long the phone rings,
    # the wait before the next attempt, and the time after the ring for the prompt and the keys
    phone_ring_s: int = 20
    phone_retry_delay_s: float = 120.0
    phone_answer_window_s: float = 60.0
    # --- harassment screening (恶意滋扰) and the surge IVR's prompts ---
    harassment_max_calls: int = 10  # more calls than this from one number within the window: warn
    harassment_window_s: int = 600
    web_channel: str = "12345网上服务平台"  # what the IVR's web channel prompt names (网上渠道)
    # --- waiting queue, surge overflow and IVR (README "Seat pool, queue and overflow") ---
    queue_max_wait_s: float = 300.0  # a queued caller is then offered to every seat (ring-all)
    overflow_centers: str = "12345"  # comma-separated centers that may overflow (never 110)
    remote_seat_site: str = "remote"  # the site lending remote seats (远程座席)
    overflow_enter_wait_s: float = 60.0
    overflow_exit_wait_s: float = 20.0
    overflow_enter_hold_s: float = 30.0
    overflow_exit_hold_s: float = 180.0
    overflow_max_remote_share: float = 0.5
    overflow_handoff_timeout_s: float = 15.0
    overflow_tick_s: float = 1.0
    default_handle_time_s: float = 180.0  # until real handle times are measured
    overflow_arrival_window_s: float = 120.0  # the arrival rate is measured over this window
    ivr_sites: str = "12345"  # comma-separated centers whose queued callers get the surge IVR
    plugins: str = ""  # comma-separated plugins this deployment runs; empty: every built-in one
    ivr_offer_wait_s: float = 45.0  # offer the IVR when a new caller's estimated wait exceeds this
    # --- supervisor dashboard ---
    service_level_s: float = 20.0  # service level: the share of calls answered within this many seconds

    @property
    def rootfs_dir(self) -> Path:
        return self.cache_dir / "rootfs-asterisk"

    def sounds_path(self) -> Path:
        """Asterisk's sounds directory (astdatadir/sounds), as this host sees it."""
        return Path(self.sounds_dir) if self.sounds_dir else self.rootfs_dir / "usr/share/asterisk/sounds"

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / "secrets.toml"

    @property
    def tokens_path(self) -> Path:
        return Path(self.tokens_file) if self.tokens_file else self.state_dir / "tokens.toml"

    @property
    def platform_ids(self) -> frozenset[str]:
        """The platforms (call centers: sites with an intake number) this deployment serves."""
        return frozenset(site.id for site in self.sites if site.intake)

    def site_of_agent(self, agent: str) -> SiteSettings | None:
        return next((s for s in self.sites if agent in s.agents), None)

    def site(self, site_id: str) -> SiteSettings:
        for site in self.sites:
            if site.id == site_id:
                return site
        raise ConfigError(f"unknown site {site_id!r}; known: {', '.join(s.id for s in self.sites)}")

    @property
    def overflow_center_ids(self) -> frozenset[str]:
        return _id_list(self.overflow_centers)

    @property
    def ivr_site_ids(self) -> frozenset[str]:
        return _id_list(self.ivr_sites)

    @property
    def plugin_names(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.plugins.split(",") if part.strip())

    def with_secret(self, secret: str) -> Settings:
        return replace(self, ami_secret=secret)


def _id_list(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())


_TABLES = ("sites", "directory", "push_targets", "skills")
_SCALAR_TYPES = {f.name: f.type for f in fields(Settings) if f.name not in _TABLES}


def _coerce(name: str, value: Any) -> Any:
    kind = _SCALAR_TYPES[name]
    try:
        if isinstance(value, bool) and kind in ("int", int, "float", float):
            raise ValueError  # TOML true is not a number
        if kind in ("int", int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError  # 20.5 for a whole number of seconds is a mistake, not 20
            return int(value)
        if kind in ("float", float):
            return float(value)
        if kind in ("Path", Path):
            return Path(value)
        if kind in ("bool", bool):
            if isinstance(value, bool):
                return value
            lowered = str(value).strip().lower()  # from the environment
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError
        return str(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        raise ConfigError(f"setting {name}: expected {kind}, got {value!r}") from None


def _site_from_mapping(raw: Mapping[str, Any], index: int) -> SiteSettings:
    required = ("id", "sip_port", "ami_port", "rtp_start", "rtp_end", "agents")
    if not isinstance(raw, Mapping):
        raise ConfigError(f"sites[{index}]: expected a [[sites]] table, got {raw!r}")
    missing = [k for k in required if k not in raw]
    if missing:
        raise ConfigError(f"sites[{index}]: missing {', '.join(missing)}")
    try:
        return SiteSettings(
            id=str(raw["id"]), intake=str(raw.get("intake", "")),
            sip_port=int(raw["sip_port"]), ami_port=int(raw["ami_port"]),
            rtp_start=int(raw["rtp_start"]), rtp_end=int(raw["rtp_end"]),
            agents=tuple(str(a) for a in raw["agents"]), host=str(raw.get("host", "127.0.0.1")),
        )
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"sites[{index}]: {exc}") from None


def _directory_from_mapping(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ConfigError("directory: expected a table of name = \"number\"")
    out = {}
    for name, number in raw.items():
        if not isinstance(number, (str, int)) or not str(number).isdigit():
            raise ConfigError(f"directory.{name}: {number!r} is not a dialable number")
        out[str(name)] = str(number)
    return out


def _urls_from_mapping(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(
            isinstance(v, str) and v.startswith(("http://", "https://")) for v in raw.values()):
        raise ConfigError("push_targets: expected a table of platform = \"http(s)://...\"")
    return {str(k): v for k, v in raw.items()}


def _skills_from_mapping(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise ConfigError('skills: expected a table of agent = ["skill", ...]')
    out = {}
    for agent, skills in raw.items():
        if not isinstance(skills, list) or not skills or not all(
                isinstance(x, str) and x.strip() for x in skills):
            raise ConfigError(f"skills.{agent}: expected a non-empty list of skill names")
        out[str(agent)] = tuple(x.strip() for x in skills)
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:  # tomllib decodes UTF-8 itself
        raise ConfigError(f"config file {path}: {exc}") from None
    except (OSError, ValueError) as exc:  # a directory, no permission, NUL in the name
        raise ConfigError(f"config file {str(path)[:200]}: cannot read ({exc})") from None


def read_toml_private(path: Path) -> dict[str, Any]:
    """Read a TOML file holding secrets, refusing one that others can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(f"secrets file {path} does not exist") from None
    except (OSError, ValueError) as exc:  # name too long, NUL in the name
        raise ConfigError(f"secrets file {str(path)[:200]}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"secrets file {path} is readable by others; chmod 600 it")
    return _read_toml(path)


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError) as exc:  # name too long, NUL in the name
        raise ConfigError(f"{str(path)[:200]}: {exc}") from None


def read_secret_file(path: Path) -> dict[str, str]:
    return {k: str(v) for k, v in read_toml_private(path).items()}


_PUSH_SECRET = re.compile(r"push_secret_[0-9A-Za-z]{1,16}_to_[0-9A-Za-z]{1,16}")


def push_secret_key(from_platform: str, to_platform: str) -> str:
    """The secrets-file key of the HMAC secret that signs pushes from one platform to the other."""
    return f"push_secret_{from_platform}_to_{to_platform}"


_SIP_PASSWORD = re.compile(r"[A-Za-z0-9_.~+=/-]{12,128}")


def agent_password_key(site: str, agent: str) -> str:
    """Each agent of each site has a SIP password of its own in the secrets file: one
    softphone's settings must not register any other seat."""
    return f"agent_password_{site}_{agent}"


def agent_password(secrets: Mapping[str, str], site: str, agent: str) -> str:
    """The agent's SIP password from the secrets file; at least 12 characters, none that
    could end a line of pjsip.conf."""
    key = agent_password_key(site, agent)
    password = secrets.get(key)
    if password is None:
        raise ConfigError(f"secrets file: no {key} (each agent needs its own SIP password)")
    if not _SIP_PASSWORD.fullmatch(password):
        raise ConfigError(f"secrets file: {key} must be 12-128 characters of A-Z a-z 0-9 _ . ~ + = / -")
    return password


def load_settings(config_file: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = config_file or (Path(env["HOTLINE_CONFIG"]) if env.get("HOTLINE_CONFIG") else None)
    raw = _read_toml(path) if path else {}
    unknown = set(raw) - set(_SCALAR_TYPES) - set(_TABLES)
    if unknown:
        raise ConfigError(f"config file {path}: unknown settings {', '.join(sorted(unknown))}")
    for name, value in raw.items():
        if name == "sites":
            if not isinstance(value, list):
                raise ConfigError(f"config file {path}: sites must be [[sites]] tables")
            values["sites"] = tuple(_site_from_mapping(s, i) for i, s in enumerate(value))
        elif name == "directory":
            values["directory"] = _directory_from_mapping(value)
        elif name == "push_targets":
            values["push_targets"] = _urls_from_mapping(value)
        elif name == "skills":
            values["skills"] = _skills_from_mapping(value)
        else:
            values[name] = _coerce(name, value)
    for name in _SCALAR_TYPES:
        env_value = env.get(f"HOTLINE_{name.upper()}")
        if env_value is not None:
            values[name] = _coerce(name, env_value)
    settings = Settings(**values)
    if _exists(settings.secrets_file):
        stored = read_secret_file(settings.secrets_file)
        settings = replace(settings, ami_secret=settings.ami_secret or stored.get("ami_secret", ""),
                           redis_password=settings.redis_password or stored.get("redis_password", ""),
                           push_secrets={**{k: v for k, v in stored.items() if _PUSH_SECRET.fullmatch(k)},
                                         **settings.push_secrets})
    _validate(settings)
    return settings


def _check_hosts(settings: Settings) -> None:
    """FastAGI and AMI carry no encryption and AMI can run any command: loopback only,
    unless the operator lists the address in ``allow_remote_hosts``."""
    allowed = _id_list(settings.allow_remote_hosts)
    checks = [("agi_host", settings.agi_host)] + [(f"site {s.id} host (AMI)", s.host) for s in settings.sites]
    for what, host in checks:
        if not is_loopback(host) and host not in allowed:
            raise ConfigError(f"{what} {host!r} is not a loopback address; add it to allow_remote_hosts "
                              "(HOTLINE_ALLOW_REMOTE_HOSTS) to allow it")


_CONFIG_NAME = re.compile(r"[0-9A-Za-z_-]{1,32}")
_LINE_BREAKERS = re.compile(r"[\r\n\x00]")
_CONFIG_BREAKERS = re.compile(r"[\r\n\x00;\[\]]")


def _check_config_values(settings: Settings) -> None:
    """No setting may carry a line break or NUL; the ones written into Asterisk's config
    files (site ids, agents, numbers, hosts, the AMI user and secret) may not carry ';'
    (a comment) or '[' ']' (a section) either: each would change the config it lands in."""
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if isinstance(value, str) and _LINE_BREAKERS.search(value):
            raise ConfigError(f"setting {f.name}: a line break or NUL is not allowed")
    for what, value in (("ami_username", settings.ami_username), ("ami_secret", settings.ami_secret),
                        ("agi_host", settings.agi_host)):
        if _CONFIG_BREAKERS.search(value):
            raise ConfigError(f"setting {what}: ';', '[' and ']' are not allowed (they would end up in a config file)")
    for site in settings.sites:
        for what, value in (("id", site.id), *((f"agent {a!r}", a) for a in site.agents)):
            if not _CONFIG_NAME.fullmatch(value):
                raise ConfigError(f"site {site.id[:32]!r}: {what} must be 1-32 of A-Z a-z 0-9 _ -")
        if site.intake and not site.intake.isdigit():
            raise ConfigError(f"site {site.id}: intake {site.intake!r} must be digits")
        if _CONFIG_BREAKERS.search(site.host):
            raise ConfigError(f"site {site.id}: host {site.host!r} is not a host name or address")
    for name in settings.directory:
        if not _CONFIG_NAME.fullmatch(name):
            raise ConfigError(f"directory: name {name[:32]!r} must be 1-32 of A-Z a-z 0-9 _ -")


def _validate(settings: Settings) -> None:
    _check_config_values(settings)
    _check_hosts(settings)
    for platform, url in settings.push_targets.items():
        refusal = url_refusal(url, settings.push_allow_http_loopback)
        if refusal:
            raise ConfigError(f"push_targets.{platform}: {refusal}")
    ids = [s.id for s in settings.sites]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"site ids must be unique, got {ids}")
    ports: dict[tuple[str, int], str] = {}
    for site in settings.sites:
        for kind, port in (("sip", site.sip_port), ("ami", site.ami_port)):
            if not 0 < port < 65536:
                raise ConfigError(f"site {site.id}: {kind} port {port} out of range")
            owner = ports.setdefault((kind, port), site.id)
            if owner != site.id:
                raise ConfigError(f"site {site.id}: {kind} port {port} already used by site {owner}")
        if site.rtp_start >= site.rtp_end:
            raise ConfigError(f"site {site.id}: rtp_start must be below rtp_end")
    # overflow_centers / ivr_sites naming no site of this config (a config without a remote
    # site, say) simply have no effect there; the server logs what overflows at start-up
    if "110" in settings.overflow_center_ids:
        raise ConfigError("overflow_centers: 110 calls are never sent to remote seats")
    if not 0 <= settings.service_level_s < 3600:
        raise ConfigError(f"service_level_s must be from 0 to 3600 seconds, got {settings.service_level_s}")
    if settings.queue_max_wait_s <= 0 or settings.overflow_tick_s <= 0:
        raise ConfigError("queue_max_wait_s and overflow_tick_s must be above 0")
    if settings.public_network_site not in ids:
        raise ConfigError(f"public_network_site {settings.public_network_site!r} is not a site")
    if settings.harassment_max_calls < 1 or settings.harassment_window_s < 1:
        raise ConfigError("harassment_max_calls and harassment_window_s must be at least 1")
    if not settings.web_channel.strip():
        raise ConfigError("web_channel: the IVR needs a name or address of the web channel")
    _validate_phone(settings)
    _validate_liveness(settings)


def _validate_liveness(settings: Settings) -> None:
    if not 5 <= settings.seat_liveness_s <= 3600:
        raise ConfigError(f"seat_liveness_s must be from 5 to 3600 seconds, got {settings.seat_liveness_s}")
    for name in ("media_timeout_s", "media_timeout_hold_s"):
        if not 5 <= getattr(settings, name) <= 86400:
            raise ConfigError(f"{name} must be from 5 to 86400 seconds, got {getattr(settings, name)}")


def qualify_timing(liveness_s: int) -> tuple[int, float]:
    """(qualify_frequency, qualify_timeout) so that a contact dead just after a reply is
    found unreachable within ``liveness_s``: the next OPTIONS goes out after the frequency
    and is given up after the timeout. Pure."""
    timeout = min(3.0, liveness_s / 5)
    return max(1, int(liveness_s - timeout)), timeout


def _validate_phone(settings: Settings) -> None:
    """The outgoing calls of the closed loop: a ring Asterisk's Originate can wait for, and
    positive, finite waits (NaN and infinity are refused, they would never come due)."""
    if not 5 <= settings.phone_ring_s <= 120:
        raise ConfigError(f"phone_ring_s must be from 5 to 120 seconds, got {settings.phone_ring_s}")
    for name, limit in (("phone_retry_delay_s", 86400.0), ("phone_answer_window_s", 600.0)):
        value = getattr(settings, name)
        if not (math.isfinite(value) and 0 < value <= limit):
            raise ConfigError(f"{name} must be above 0 and at most {limit:g} seconds, got {value}")


