"""One typed settings object, read from an optional TOML file and then env vars.

Precedence: defaults < TOML file (``HOTLINE_CONFIG`` or ``--config``) < ``HOTLINE_*`` env.
Core's settings (``Settings``) and each capability's (a ``Section``) are validated by
pydantic; a bad value is a ConfigError naming where it was written and why. Secrets (the
AMI secret, SIP passwords) are never part of ``repr`` and never logged; they come from env
or from a file that only its owner can read.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar, get_type_hints

import structlog
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hotline_link.core.errors import ConfigError
from hotline_link.core.net import is_loopback

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

S = TypeVar("S", bound="Section")
log = structlog.get_logger(__name__)

_CONFIG_NAME = re.compile(r"[0-9A-Za-z_-]{1,32}")
_LINE_BREAKERS = re.compile(r"[\r\n\x00]")
_AGI_ADDRESS = re.compile(r"[0-9A-Za-z.-]{1,253}:[0-9]{1,5}")
_CONFIG_BREAKERS = re.compile(r"[\r\n\x00;\[\]]")
_NAME_RULE = "must be 1-32 of A-Z a-z 0-9 _ -"


class Refused(ValueError):
    """A validator's refusal whose message already names what it refuses (a site, a host):
    it is shown as written, after where ``key`` (default: the field) was written."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


_SCALARS = (int, float, bool, str, Path)


@functools.cache
def _scalar_kinds(model: type) -> dict[str, Any]:
    """Each scalar field of a model (a Section) or a dataclass (Settings, SiteSettings) and its type."""
    hints = ({name: info.annotation for name, info in model.model_fields.items()}
             if issubclass(model, BaseModel) else get_type_hints(model))
    return {name: kind for name, kind in hints.items() if kind in _SCALARS}


def _scalar(cls: type, value: Any, info: ValidationInfo) -> Any:
    """TOML and environment values as they always were: "30" and 30.0 for an int, "yes" for
    a bool; 20.5 for a whole number (a mistake, not 20), true for a number and a line break
    or NUL in any text are refused. Every model here validates its scalar fields with this."""
    kind = _scalar_kinds(cls).get(info.field_name or "")
    if kind is None:
        return value
    try:
        if (kind in (int, float) and isinstance(value, bool)) or (
                kind is int and isinstance(value, float) and not value.is_integer()):
            raise ValueError
        typed = _BOOLS[str(value).strip().lower()] if kind is bool and not isinstance(value, bool) else kind(value)
    except (TypeError, ValueError, KeyError, OverflowError):  # OverflowError: int(inf)
        raise ValueError(f"expected {kind.__name__}, got {value!r}") from None
    if isinstance(typed, str) and _LINE_BREAKERS.search(typed):
        raise ValueError("a line break or NUL is not allowed")
    return typed


_BOOLS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}
_SHAPES = {"tuple_type": "a list", "list_type": "a list", "dict_type": "a table", "dataclass_type": "a table"}
_BOUNDS = {"greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most")}  # Field(ge=, le=)


def _describe(exc: ValidationError, origins: Mapping[str, str], known: Mapping[str, Iterable[str]]) -> str:
    """The first error in one line: where it was written (``origins``: key -> "config file F:
    [table] " or "environment HOTLINE_K"; "" -> the file), the key and why. ``known``: the
    keys of the model ("") and of its nested tables (by field)."""
    errors = exc.errors()
    error = errors[0]
    loc = error["loc"][:-1] if error["type"] == "missing" else error["loc"]
    cause = (error.get("ctx") or {}).get("error")
    key = (cause.key if isinstance(cause, Refused) else "") or (str(loc[0]) if loc else "")
    where = origins.get(key, "")
    if isinstance(cause, Refused):  # it names what it refuses: shown as written
        said = str(cause)
    else:
        name = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
        reason = _reason(error, errors, name, known.get(key if len(loc) > 1 else "", ()))
        if not name:
            return f"{where}{reason}"
        said = reason if reason.startswith((f"{name} ", f"{name}:", f"{name}.", "setting ")) else f"{name}: {reason}"
        if (not where or where.startswith("environment ")) and not said.startswith((f"{key} ", "setting ")):
            said = f"setting {said}"
    return f"{said} ({where})" if where.startswith("environment ") else f"{where}{said}"


def _reason(error: Mapping[str, Any], errors: list[Any], name: str, known: Iterable[str]) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    if "error" in context:
        return str(context["error"])
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return f"unknown setting; known: {', '.join(known)}"
    if kind == "missing":
        parent = error["loc"][:-1]
        return "missing " + ", ".join(str(e["loc"][-1]) for e in errors if e["type"] == "missing"
                                      and e["loc"][:-1] == parent)
    if kind in _BOUNDS:
        bound, words = _BOUNDS[kind]
        unit = " seconds" if name.endswith("_s") else ""
        return f"{name} must be {words} {context[bound]}{unit}, got {error['input']}"
    if kind in _SHAPES:
        return f"expected {_SHAPES[kind]}, got {error['input']!r}"
    return error["msg"]


@dataclass(frozen=True)
class SiteSettings:
    """One Asterisk site: a call center (12345, 110) or a site lending remote seats; a TOML
    ``[[sites]]`` table."""

    __pydantic_config__ = ConfigDict(extra="forbid", coerce_numbers_to_str=True)  # agents = [1001]

    id: str
    # the number callers dial to reach this platform ("" for a seat-only site; code passes it)
    intake: Annotated[str, Field(default="")]
    sip_port: Annotated[int, Field(ge=1, le=65535)]
    ami_port: Annotated[int, Field(ge=1, le=65535)]
    rtp_start: int
    rtp_end: int
    agents: tuple[str, ...]
    host: str = "127.0.0.1"
    # the FastAGI servers this site's dialplan asks, in order, each "host:port": the next is
    # tried when one cannot be reached; empty: the server's own agi_host:agi_port
    agi: tuple[str, ...] = ()
    # agents (of ``agents``) whose phone is the browser: the desk page registers them over
    # SIP over WebSocket (JsSIP) to Asterisk's TLS HTTP server on ``wss_port`` (0: none); its
    # plain HTTP server, which Asterisk cannot run without, listens on loopback at wss_port + 1
    webrtc_agents: tuple[str, ...] = ()
    wss_port: Annotated[int, Field(ge=0, le=65535)] = 0
    # 全程录音: every call from intake is recorded on the caller's channel (MixMonitor)
    record_calls: bool = True

    _scalars = field_validator("*", mode="before")(_scalar)

    @model_validator(mode="after")
    def _rules(self) -> SiteSettings:
        """Names written into Asterisk's config files may not change the config they land in."""
        for what, value in (("id", self.id), *((f"agent {a!r}", a) for a in self.agents)):
            if not _CONFIG_NAME.fullmatch(value):
                raise Refused(f"site {self.id[:32]!r}: {what} {_NAME_RULE}")
        if self.intake and not self.intake.isdigit():
            raise Refused(f"site {self.id}: intake {self.intake!r} must be digits")
        if _CONFIG_BREAKERS.search(self.host):
            raise Refused(f"site {self.id}: host {self.host!r} is not a host name or address")
        if self.rtp_start >= self.rtp_end:
            raise Refused(f"site {self.id}: rtp_start must be below rtp_end")
        for address in self.agi:
            if not _AGI_ADDRESS.fullmatch(address) or not 1 <= int(address.rsplit(":", 1)[1]) <= 65535:
                raise Refused(f"site {self.id}: agi {address[:64]!r} is not host:port")
        if strangers := [a for a in self.webrtc_agents if a not in self.agents]:
            raise Refused(f"site {self.id}: webrtc_agents {', '.join(s[:32] for s in strangers[:5])} "
                          "not among its agents")
        if self.webrtc_agents and not self.wss_port:
            raise Refused(f"site {self.id}: webrtc_agents need wss_port (Asterisk's TLS HTTP port for SIP "
                          "over WebSocket)")
        return self

    def webrtc_url(self) -> str | None:
        """Where a browser softphone of this site registers: SIP over secure WebSocket."""
        return f"wss://{self.host}:{self.wss_port}/ws" if self.wss_port else None

    def agi_hosts(self) -> list[str]:
        return [address.rsplit(":", 1)[0] for address in self.agi]

    def agent_device(self, agent: str) -> str:
        return f"PJSIP/{agent}"


def _default_sites() -> tuple[SiteSettings, ...]:
    return (
        # 1021 and 2021 are the sandbox's browser phones (the desk page's JsSIP)
        SiteSettings("12345", "12345", 25060, 25038, 30000, 30999,
                     tuple(str(n) for n in range(1001, 1022)), webrtc_agents=("1021",), wss_port=25064),
        SiteSettings("110", "110", 25070, 25039, 31000, 31999,
                     tuple(str(n) for n in range(2001, 2022)), webrtc_agents=("2021",), wss_port=25074),
        SiteSettings("remote", "", 25080, 25040, 32000, 32999,
                     tuple(str(n) for n in range(3001, 3006))),
    )


# every section model by its table, and the section owning each key: filled as capabilities'
# config modules are imported (Section subclasses register themselves); used by the flat
# compatibility view of Settings (``settings.wrap_up_s``), never to decide what is loaded
SECTIONS: dict[str, type[Section]] = {}
_SECTION_OF_KEY: dict[str, type[Section]] = {}


class Section(BaseModel):
    """One capability's settings: its TOML table ``[table]``; each key's environment name is
    ``HOTLINE_<KEY>`` (keys keep the flat names they had before sections, which old configs
    may still write at the top level for one release). Subclasses live with their capability
    (``<capability>/config.py``) and set ``table``; validators raise ValueError with the reason."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)
    table: ClassVar[str]

    _scalars = field_validator("*", mode="before")(_scalar)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "table" in cls.__dict__:
            SECTIONS[cls.table] = cls
            for key in cls.model_fields:
                _SECTION_OF_KEY[key] = cls
            for name, value in vars(cls).items():  # derived values (overflow_center_ids)
                if isinstance(value, property) and not name.startswith("_"):
                    _SECTION_OF_KEY[name] = cls

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(cls.model_fields)

    @classmethod
    def scalar_keys(cls) -> tuple[str, ...]:
        return tuple(_scalar_kinds(cls))

    @classmethod
    def parse(cls: type[S], raw: Mapping[str, Any], origins: Mapping[str, str] | None = None) -> S:
        """The section from its raw values; a bad one is a ConfigError naming where it was
        written (config file and key, or environment name) and why."""
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as exc:
            raise ConfigError(_describe(exc, origins or {}, {"": cls.keys()})) from None


@dataclass(frozen=True, init=False)
class Settings:
    """Core's settings (server, Redis, state paths, sites): each field a top-level TOML key
    and, if a scalar, ``HOTLINE_<NAME>``, validated by ``load_settings`` (not by
    ``Settings(...)``). Each capability's section stays raw (``tables``) until its plugin
    parses it with its own model (``section(Model)``). For one release, ``settings.<flat
    name>`` still reads any capability's key (``settings.wrap_up_s``) and
    ``Settings(wrap_up_s=...)`` / ``replace(settings, wrap_up_s=...)`` still set one."""

    # --- Redis ---
    redis_url: str = "redis://127.0.0.1:26379/0"
    # Redis AUTH (requirepass); the sandbox writes it to the secrets file and starts its
    # Redis with it: the store holds callers' numbers and jobs the server will sign
    redis_password: str = field(default="", repr=False)
    # --- server and network ---
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
    # liveness: a softphone that died without unregistering is offline within seat_liveness_s
    # (Asterisk qualifies every agent contact); an answered call whose media stopped (no RTP:
    # the phone vanished) ends after media_timeout_s, on hold after media_timeout_hold_s
    seat_liveness_s: Annotated[int, Field(ge=5, le=3600)] = 30
    media_timeout_s: Annotated[int, Field(ge=5, le=86400)] = 30
    media_timeout_hold_s: Annotated[int, Field(ge=5, le=86400)] = 300
    log_level: str = "info"
    plugins: str = ""  # comma-separated plugins this deployment runs; empty: every built-in one
    # --- state paths ---
    state_dir: Path = DEFAULT_STATE_DIR
    cache_dir: Path = DEFAULT_CACHE_DIR
    debian_mirror: str = ""  # empty: read from this machine's apt sources
    debian_suite: str = "sid"
    template_dir: str = ""  # empty: the asterisk_conf templates shipped with hotline-link
    tokens_file: str = ""  # empty: state_dir/tokens.toml
    # Asterisk's sounds directory as this host sees it (a dispatch call's summary is written there);
    # empty: the sandbox's
    sounds_dir: str = ""
    # where Asterisk records the units' voice notes ({site}: the site id); empty: the sandbox's
    voice_notes_dir: str = ""
    # where Asterisk records calls ({site}: the site id), as this host sees it; empty: the sandbox's
    recordings_dir: str = ""
    # --- sites (Asterisk's config is rendered from these) ---
    sites: tuple[SiteSettings, ...] = field(default_factory=_default_sites)
    # transfer and conference targets: name -> number dialled (config: [directory] table)
    directory: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_DIRECTORY))
    # the site whose trunk reaches numbers that are not ours (119, 120, utility hotlines);
    # in the sandbox the remote site stands in for the public network and answers them
    public_network_site: str = "remote"
    remote_seat_site: str = "remote"  # the site lending remote seats (远程座席)
    # --- secrets of the secrets file ---
    push_secret: str = field(default="", repr=False)  # no longer used to sign: see push_secrets
    # --- filled by the loader, never read from TOML or the environment (_NOT_KEYS) ---
    # one HMAC secret per direction (secrets file: push_secret_<from>_to_<to>): the key that
    # signs 12345's pushes to 110 cannot forge 110's to 12345
    push_secrets: dict[str, str] = field(default_factory=dict, repr=False)
    # a site's own AMI secret (secrets file: ami_secret_<site>), where two agencies' sites must
    # not share one: the 110 site's AMI opens to 110's deployment only; else ami_secret
    site_ami_secrets: dict[str, str] = field(default_factory=dict, repr=False)
    # the SMS gateway's HMAC secrets (secrets file: sms_secret signs the gateway's inbound
    # SMS webhook; sms_secret_<name>, any other, e.g. for the replies sent to it)
    sms_secrets: dict[str, str] = field(default_factory=dict, repr=False)
    # capabilities' sections, as loaded: table -> key -> raw value
    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # where each key was written (for messages): "key" (core's), "table.key" -> origin
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    # capability keys set by flat name in code (Settings(wrap_up_s=60), replace(...))
    overrides: Mapping[str, Any] = field(default_factory=dict)

    __pydantic_config__ = ConfigDict(extra="forbid")

    _scalars = field_validator("*", mode="before")(_scalar)

    @field_validator("ami_username", "ami_secret", "agi_host")
    @classmethod
    def _config_text(cls, value: str) -> str:
        if _CONFIG_BREAKERS.search(value):
            raise ValueError("';', '[' and ']' are not allowed (they would end up in a config file)")
        return value

    @field_validator("directory", mode="before")
    @classmethod
    def _dialable(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            raise ValueError('expected a table of name = "number"')
        for name, number in raw.items():
            if not isinstance(number, (str, int)) or not str(number).isdigit():
                raise ValueError(f"directory.{name}: {number!r} is not a dialable number")
            if not _CONFIG_NAME.fullmatch(name):
                raise ValueError(f"name {name[:32]!r} {_NAME_RULE}")
        return {name: str(number) for name, number in raw.items()}

    @model_validator(mode="after")
    def _rules(self) -> Settings:
        """Rules of several settings; each refusal names the key it is written under."""
        ids = [s.id for s in self.sites]
        if len(set(ids)) != len(ids):
            raise Refused(f"site ids must be unique, got {ids}", "sites")
        ports: dict[tuple[str, int], str] = {}
        for site in self.sites:
            for kind, port in (("sip", site.sip_port), ("ami", site.ami_port), ("wss", site.wss_port)):
                if not port:  # wss_port 0: none
                    continue
                owner = ports.setdefault((kind, port), site.id)
                if owner != site.id:
                    raise Refused(f"site {site.id}: {kind} port {port} already used by site {owner}", "sites")
        if self.public_network_site not in ids:
            raise Refused(f"public_network_site {self.public_network_site!r} is not a site", "public_network_site")
        # FastAGI and AMI carry no encryption and AMI can run any command: loopback only,
        # unless the operator lists the address in allow_remote_hosts
        allowed = id_list(self.allow_remote_hosts)
        hosts = [("agi_host", "agi_host", self.agi_host),
                 *(("sites", f"site {s.id} host (AMI)", s.host) for s in self.sites),
                 *(("sites", f"site {s.id} agi", h) for s in self.sites for h in s.agi_hosts())]
        for key, what, host in hosts:
            if not is_loopback(host) and host not in allowed:
                raise Refused(f"{what} {host!r} is not a loopback address; add it to allow_remote_hosts "
                              "(HOTLINE_ALLOW_REMOTE_HOSTS) to allow it", key)
        return self

    def __init__(self, **values: Any) -> None:
        overrides = dict(values.pop("overrides", None) or {})
        for f in fields(self):
            if f.name == "overrides":
                continue
            if f.name in values:
                value = values.pop(f.name)
            elif callable(f.default_factory):
                value = f.default_factory()
            else:
                value = f.default
            object.__setattr__(self, f.name, value)
        overrides.update(values)  # a capability's key by its flat name
        object.__setattr__(self, "overrides", overrides)

    def __getattr__(self, name: str) -> Any:
        """The flat compatibility view: a capability's key read from its section."""
        if name.startswith("_"):
            raise AttributeError(name)
        model = _SECTION_OF_KEY.get(name)
        if model is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.section(model), name)

    def section(self, model: type[S]) -> S:
        """The capability's section, parsed by its model (once; a bad value is a ConfigError)."""
        parsed: dict[type[Section], Section] = self.__dict__.setdefault("_parsed", {})
        found = parsed.get(model)
        if found is None:
            raw = dict(self.tables.get(model.table, {}))
            raw.update((k, v) for k, v in self.overrides.items() if k in model.model_fields)
            origins = {"": self.origins.get("", ""), **{k.split(".", 1)[1]: v for k, v in self.origins.items()
                                                         if k.startswith(f"{model.table}.")}}
            found = parsed[model] = model.parse(raw, origins)
        return found  # type: ignore[return-value]  # parsed by model

    def unknown_overrides(self) -> list[str]:
        """Flat names set in code that no known section has (a typo)."""
        return sorted(k for k in self.overrides if k not in _SECTION_OF_KEY)

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
    def plugin_names(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.plugins.split(",") if part.strip())

    def agi_addresses(self, site: SiteSettings) -> tuple[str, ...]:
        """The FastAGI servers a site's dialplan asks, in order (``SiteSettings.agi``)."""
        return site.agi or (f"{self.agi_host}:{self.agi_port}",)

    def ami_secret_for(self, site_id: str) -> str:
        """The AMI secret of one site: its own (``ami_secret_<site>``), else ``ami_secret``."""
        return self.site_ami_secrets.get(site_id) or self.ami_secret

    def with_secret(self, secret: str) -> Settings:
        return replace(self, ami_secret=secret)

    def with_values(self, **changes: Any) -> Settings:
        """A copy with these settings changed, core's or a capability's by its flat name
        (``dataclasses.replace`` does the same at run time; type checkers know core's only)."""
        return replace(self, **changes)


def id_list(text: str) -> frozenset[str]:
    """The ids of a comma-separated list ("12345, 110")."""
    return frozenset(part.strip() for part in text.split(",") if part.strip())


_NOT_KEYS = ("push_secrets", "site_ami_secrets", "sms_secrets", "tables", "origins", "overrides")
CORE_KEYS = tuple(f.name for f in fields(Settings) if f.name not in _NOT_KEYS)  # core's TOML keys
_KNOWN = {"sites": tuple(f.name for f in fields(SiteSettings))}


def env_names(sections: Iterable[type[Section]] = ()) -> dict[str, tuple[str, str]]:
    """Every environment variable read, and the (table, key) it sets ("": core's): HOTLINE_<KEY>
    for each scalar key (a key that moved into a table kept its name, so its variable too)."""
    keys = [("", key) for key in _scalar_kinds(Settings) if key in CORE_KEYS]
    keys += [(model.table, key) for model in sections for key in model.scalar_keys()]
    return {f"HOTLINE_{key.upper()}": (table, key) for table, key in keys}


@functools.cache
def _core_model() -> TypeAdapter[Settings]:
    return TypeAdapter(Settings)


def _validated(values: Mapping[str, Any], origins: dict[str, str]) -> Settings:
    try:
        return _core_model().validate_python(values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origins, _KNOWN)) from None


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
SMS_SECRET = re.compile(r"sms_secret(_[0-9A-Za-z]{1,32})?")
SMS_INBOUND_SECRET = "sms_secret"  # the secrets-file key that signs the SMS gateway's inbound webhook


def ami_secret_key(site: str) -> str:
    """The secrets file's entry of a site's own AMI secret."""
    return f"ami_secret_{site}"


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


def load_settings(config_file: Path | None = None, env: Mapping[str, str] | None = None,
                  sections: Iterable[type[Section]] = (), *, unknown_ok: bool = False) -> Settings:
    """Core's settings, validated, and the raw tables of ``sections`` (the capabilities'
    models, which parse them later: ``Settings.section``). A section's key may be written in
    its table or, for one release, at the top level by its flat name (with a warning); its
    environment name is ``HOTLINE_<KEY>`` (``env_names``). Other names are refused unless
    ``unknown_ok``."""
    env = os.environ if env is None else env
    models = {model.table: model for model in sections}
    owner = {key: model for model in models.values() for key in model.keys()}
    path = config_file or (Path(env["HOTLINE_CONFIG"]) if env.get("HOTLINE_CONFIG") else None)
    raw = _read_toml(path) if path else {}
    where = f"config file {path}: "
    unknown = set(raw) - set(CORE_KEYS) - set(models) - set(owner)
    if unknown and not unknown_ok:
        raise ConfigError(f"{where}unknown settings {', '.join(sorted(unknown))}")
    core: dict[str, Any] = {}
    tables: dict[str, dict[str, Any]] = {table: {} for table in models}
    origins: dict[str, str] = {"": where} if path else {}
    for name, value in raw.items():
        if name in models:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}{name}: expected a [{name}] table, got {value!r}")
            tables[name].update(value)
            origins.update((f"{name}.{key}", f"{where}[{name}] ") for key in value)
        elif name in owner:
            table = owner[name].table
            log.warning("settings.flat_name_deprecated", name=name, use=f"[{table}] {name}")
            tables[table].setdefault(name, value)  # the table's own key wins
            origins.setdefault(f"{table}.{name}", where)
        elif name in CORE_KEYS:
            core[name] = value
            origins[name] = where
    for env_name, (table, key) in env_names(models.values()).items():
        if env_name in env:
            (tables[table] if table else core)[key] = env[env_name]
            origins[f"{table}.{key}" if table else key] = f"environment {env_name}"
    values = {**core, "tables": tables, "origins": origins}
    settings = _validated(values, origins)
    if _exists(settings.secrets_file):
        stored = read_secret_file(settings.secrets_file)
        for key in ("ami_secret", "redis_password"):  # set in the config or env, they win
            if not getattr(settings, key) and key in stored:
                values[key] = stored[key]
                origins[key] = f"secrets file {settings.secrets_file}: "
        values["push_secrets"] = {k: v for k, v in stored.items() if _PUSH_SECRET.fullmatch(k)}
        values["sms_secrets"] = {k: v for k, v in stored.items() if SMS_SECRET.fullmatch(k)}
        values["site_ami_secrets"] = {site.id: stored[ami_secret_key(site.id)] for site in settings.sites
                                      if stored.get(ami_secret_key(site.id))}
        settings = _validated(values, origins)
    return settings


def qualify_timing(liveness_s: int) -> tuple[int, float]:
    """(qualify_frequency, qualify_timeout) so that a contact dead just after a reply is
    found unreachable within ``liveness_s``: the next OPTIONS goes out after the frequency
    and is given up after the timeout. Pure."""
    timeout = min(3.0, liveness_s / 5)
    return max(1, int(liveness_s - timeout)), timeout
