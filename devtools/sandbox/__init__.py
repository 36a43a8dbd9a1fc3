"""The local sandbox: three Asterisk 22 sites (12345, 110, remote) and a Redis.

``Sandbox.up()`` builds (or reuses) the sid root, renders each site's config from
``asterisk_conf/``, checks ports, and starts everything; ``down()`` stops it all. The
same sites also serve two deployments, each with a Redis of its own (``deployments``).
"""

from __future__ import annotations

import functools
import os
import secrets as token_source
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from devtools.sandbox import deployments, rootfs
from devtools.sandbox.ports import PortNeed, require_free, tcp_open
from devtools.sandbox.processes import AsteriskProcess, RedisProcess
from devtools.sandbox.residue import agent_contacts, clear_site, count_channels, forget_callbacks, ready_seats
from devtools.sandbox.tls import ensure_site_certificate
from hotline_link.asterisk.layout import SiteLayout
from hotline_link.asterisk.render import render_site
from hotline_link.core.errors import ConfigError, SandboxError
from hotline_link.core.settings import (
    Settings,
    agent_password,
    agent_password_key,
    ami_secret_key,
    push_secret_key,
    read_secret_file,
)
from hotline_link.web.auth import write_sandbox_tokens
from ivr.prompts import install_prompts
from ivr.prompts_cli import prompt_sets, self_service_texts
from linkage.feedback_line import pin_key
from linkage.units import units_for
from tickets.recordings import sweep_directory

log = structlog.get_logger(__name__)

RECORDINGS_KEPT_S = 24 * 3600.0  # the sandbox's calls are test calls


@dataclass(frozen=True)
class SiteStatus:
    site_id: str
    pid: int | None
    ami_open: bool
    channels: int | None = None  # active channels; None while the site is down
    contacts: int | None = None  # agents' registered contacts; None while the site is down


@dataclass(frozen=True)
class SandboxStatus:
    rootfs_ready: bool
    sites: tuple[SiteStatus, ...]
    redis_pid: int | None
    deployment_redis_pids: dict[str, int | None]  # each deployment's Redis, by platform

    @property
    def running(self) -> bool:
        return all(s.pid and s.ami_open for s in self.sites) and self.redis_pid is not None \
            and all(self.deployment_redis_pids.values())


def _chroot_ids(root: Path, user: str = "asterisk") -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        parts = line.split(":")
        if parts[0] == user:
            return int(parts[2]), int(parts[3])
    raise SandboxError(f"no '{user}' user in {root}/etc/passwd; rebuild the root")


def _duty_numbers(settings: Settings) -> list[str]:
    """The duty and backup phones of the configured units directory (dispatch by phone)."""
    try:
        units = units_for(settings.linkage_jurisdiction)
    except ConfigError:  # a bad units file is reported by the server that loads it
        return []
    return [n for u in units.units for n in (u.duty_phone, u.backup_phone) if n and n.isdigit()]


class Sandbox:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.rootfs_dir
        self.state_dir = settings.state_dir
        self.redis = RedisProcess(settings.redis_url, settings.state_dir, settings.redis_password)
        self.deployment_redis = {
            plan.platform: RedisProcess(deployments.redis_url(plan),
                                        deployments.deployment_dir(settings.state_dir, plan.platform))
            for plan in deployments.PLANS}

    def asterisk(self, site_id: str) -> AsteriskProcess:
        return AsteriskProcess(self.root, self.state_dir, site_id)

    def load_or_create_secrets(self) -> dict[str, str]:
        """The sandbox's secrets (mode 600); ones added in later versions are appended."""
        path = self.settings.secrets_file
        values = read_secret_file(path) if path.exists() else {}
        wanted = {"ami_secret": 24, "redis_password": 24, "sms_secret": 24}  # sms: the gateway's webhook
        wanted.update({push_secret_key(a, b): 24 for a, b in (("12345", "110"), ("110", "12345"))})
        wanted.update(deployments.wanted_secrets())
        wanted.update({agent_password_key(site.id, agent): 12
                       for site in self.settings.sites for agent in site.agents})
        missing = {k: token_source.token_urlsafe(n) for k, n in wanted.items() if k not in values}
        # the units' feedback-line PINs (linkage/feedback_line.py), 6 digits each
        missing.update({k: f"{token_source.randbelow(10**6):06d}" for k in self._unit_pin_keys() if k not in values})
        if missing:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.writelines(f'{k} = "{v}"\n' for k, v in missing.items())
        return {**values, **missing}

    def _unit_pin_keys(self) -> list[str]:
        return [pin_key(unit.id) for unit in units_for(self.settings.linkage_jurisdiction).units]

    def _port_needs(self) -> list[PortNeed]:
        needs = []
        for site in self.settings.sites:
            if self.asterisk(site.id).pid():
                continue
            needs.append(PortNeed(f"site {site.id} SIP", site.host, site.sip_port, "udp"))
            needs.append(PortNeed(f"site {site.id} AMI", site.host, site.ami_port, "tcp"))
            if site.wss_port:
                needs.append(PortNeed(f"site {site.id} WSS", site.host, site.wss_port, "tcp"))
                needs.append(PortNeed(f"site {site.id} HTTP", "127.0.0.1", site.wss_port + 1, "tcp"))
        if self.redis.local and not self.redis.pid():
            needs.append(PortNeed("redis", self.redis.host, self.redis.port, "tcp"))
        for platform, redis in self.deployment_redis.items():
            if not redis.pid():
                needs.append(PortNeed(f"redis of the {platform} deployment", redis.host, redis.port, "tcp"))
        return needs

    def render_site_configs(self, secrets: dict[str, str]) -> dict[str, dict[str, str]]:
        """{site id: {file name: text}}; fails on any template error before anything runs."""
        settings = self._rendered_settings(secrets)
        module_dir = rootfs.module_dir(self.root)
        template_dir = Path(settings.template_dir) if settings.template_dir else None
        duty_numbers = _duty_numbers(settings)
        return {site.id: render_site(settings, site, module_dir,
                                     {a: agent_password(secrets, site.id, a) for a in site.agents},
                                     template_dir, duty_numbers)
                for site in settings.sites}

    def _rendered_settings(self, secrets: dict[str, str]) -> Settings:
        """The settings Asterisk's config is rendered from: 110's site with its own AMI
        secret, asking 110's deployment's FastAGI first, then the one-server layout's."""
        police = deployments.plan_of("110")
        sites = tuple(replace(site, agi=(f"127.0.0.1:{police.agi_port}", f"{self.settings.agi_host}:"
                                         f"{self.settings.agi_port}"))
                      if site.id in police.sites and not site.agi else site for site in self.settings.sites)
        own = {site_id: secrets[key] for site_id in police.sites
               if (key := ami_secret_key(site_id)) in secrets}
        return replace(self.settings.with_secret(secrets["ami_secret"]), sites=sites,
                       site_ami_secrets={**own, **self.settings.site_ami_secrets})

    def write_hosts(self) -> None:
        """The chroot resolves this machine's own name without DNS (Asterisk asks for it)."""
        name = socket.gethostname()
        (self.root / "etc/hosts").write_text(
            f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n::1\tlocalhost ip6-localhost\n")

    def prune_recordings(self, before: float) -> None:
        """The sandbox keeps the calls it recorded for a day, not for the tickets' year."""
        for site in self.settings.sites:
            sweep_directory(self.root / SiteLayout(site.id).recordings.lstrip("/"), before)

    def write_site_configs(self, rendered: dict[str, dict[str, str]]) -> set[str]:
        """Write each site's config files; returns the sites whose files changed."""
        self.write_hosts()
        changed = set()
        uid, gid = _chroot_ids(self.root)
        for site_id, files in rendered.items():
            layout = SiteLayout(site_id)
            for d in layout.dirs():
                host_dir = self.root / d.lstrip("/")
                host_dir.mkdir(parents=True, exist_ok=True)
                os.chown(host_dir, uid, gid)
            site = self.settings.site(site_id)
            if site.wss_port and ensure_site_certificate(self.root / layout.root.lstrip("/") / "tls",
                                                          site.host, uid, gid):
                changed.add(site_id)
            etc = self.root / layout.etc.lstrip("/")
            for name, text in files.items():
                target = etc / name
                try:
                    if target.read_text(encoding="utf-8") == text:
                        continue
                except (OSError, UnicodeDecodeError):
                    pass
                changed.add(site_id)
                # created 640 (secrets inside: AMI, SIP passwords), never briefly world-readable;
                # written beside and renamed, so Asterisk never reads half a file
                partial = target.with_name(f".{name}.partial")
                partial.unlink(missing_ok=True)
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                os.chown(partial, uid, gid)
                os.replace(partial, target)
        return changed

    @property
    def sounds_dir(self) -> Path:
        """Asterisk's sounds in the root (astdatadir in asterisk_conf/asterisk.conf)."""
        return self.settings.sounds_path()

    def install_prompts(self) -> list[Path]:
        """Every Mandarin prompt, synthesised into sounds/hl/ where its text changed."""
        sets = prompt_sets(self.settings.web_channel, self.sounds_dir, self_service_texts(self.settings))
        written = [path for prompts, target in sets for path in install_prompts(prompts, target)]
        if written:
            log.info("sandbox.prompts_installed", count=len(written), dir=str(self.sounds_dir / "hl"))
        return written

    def up(self, rebuild: bool = False, build: bool = True) -> SandboxStatus:
        if os.geteuid() != 0:
            raise SandboxError("the sandbox needs root (debootstrap, chroot)")
        if not build and not rootfs.is_ready(self.root):
            raise SandboxError(f"the Asterisk root is not built yet at {self.root}; run "
                               "'hotline-link sandbox up' to build it (about a minute)")
        rootfs.ensure_rootfs(self.root, self.settings.debian_suite, self.settings.debian_mirror,
                             rebuild=rebuild)
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.state_dir.chmod(0o700)  # secrets, tokens, recordings: the owner's only
        secrets = self.load_or_create_secrets()
        self.redis.password = secrets["redis_password"]
        rendered = self.render_site_configs(secrets)
        write_sandbox_tokens(self.settings.tokens_path,
                             [a for site in self.settings.sites for a in site.agents])
        require_free(self._port_needs())
        changed = self.write_site_configs(rendered)
        self.prune_recordings(time.time() - RECORDINGS_KEPT_S)
        self.install_prompts()
        if self.redis.local:
            self.redis.start()
        for platform, redis in self.deployment_redis.items():
            redis.password = secrets[deployments.redis_password_key(platform)]
            redis.start()
        deployments.write_deployments(self._rendered_settings(secrets), secrets)
        for site in self.settings.sites:
            process = self.asterisk(site.id)
            started = process.pid() is None
            if not started and site.id in changed:  # a newer tree's config: the site takes it now
                process.cli("core reload")
                log.info("sandbox.site.reloaded", site=site.id)
            if not started:  # a reload loads no module added to modules.conf since the site started
                for module in missing_modules(rendered[site.id].get("modules.conf", ""),
                                              process.cli("module show")):
                    process.cli(f"module load {module}")
                    log.info("sandbox.site.module_loaded", site=site.id, module=module)
            process.start()
            if started:
                log.info("sandbox.site.started", site=site.id, sip_port=site.sip_port,
                         ami_port=site.ami_port, pid=process.pid())
        return self.status()

    def down(self) -> SandboxStatus:
        for site in self.settings.sites:
            self.asterisk(site.id).stop()
        if self.redis.local:
            self.redis.stop()
        for redis in self.deployment_redis.values():
            redis.stop()
        return self.status()

    def clear(self) -> dict[str, tuple[int, int]]:
        """No channel and no agent contact left on any site, whatever an earlier run (a
        test, a benchmark, chaos, the demo) left behind; {site: (channels, contacts) found}."""
        from devtools.sip.peers import (
            free_udp_port,  # sip_peers imports the sandbox's renderer
        )

        secrets = read_secret_file(self.settings.secrets_file)
        found = {}
        for site in self.settings.sites:
            process = self.asterisk(site.id)
            if process.pid() is None:
                continue
            found[site.id] = clear_site(site, process.cli,
                                        functools.partial(agent_password, secrets, site.id), free_udp_port)
            if any(found[site.id]):
                log.info("sandbox.cleared", site=site.id, channels=found[site.id][0],
                         contacts=found[site.id][1])
        self.ready_seats()
        return found

    def ready_seats(self) -> list[str]:
        """Seats an earlier run left paused, logged out, in wrap-up or claimed go back in
        the pool (a test stopped before its own clean-up leaves them so), and callbacks it
        queued are forgotten: one would ring an agent in the middle of the next run."""
        import redis

        client = redis.Redis.from_url(self.settings.redis_url, password=self.settings.redis_password or None,
                                      decode_responses=True)
        try:
            forget_callbacks(client)
            readied = ready_seats(client, self.settings.sites, time.time())
        except redis.RedisError as exc:
            raise SandboxError(f"sandbox: cannot reset the seats in Redis: {exc}") from None
        finally:
            client.close()
        if readied:
            log.info("sandbox.seats_readied", seats=readied)
        return readied

    def status(self) -> SandboxStatus:
        sites = []
        for s in self.settings.sites:
            process = self.asterisk(s.id)
            pid = process.pid()
            channels = contacts = None
            if pid is not None:
                try:
                    channels = count_channels(process.cli("core show channels count"))
                    contacts = sum(agent_contacts(process.cli("pjsip show contacts"), frozenset(s.agents)).values())
                except SandboxError:
                    pass  # still booting or stopping: the counts are unknown
            sites.append(SiteStatus(s.id, pid, tcp_open(s.host, s.ami_port), channels, contacts))
        return SandboxStatus(rootfs.is_ready(self.root), tuple(sites), self.redis.pid(),
                             {platform: redis.pid() for platform, redis in self.deployment_redis.items()})


def missing_modules(modules_conf: str, module_show: str) -> list[str]:
    """The modules ``modules.conf`` loads that ``module show`` does not list as running."""
    wanted = [line.split("=>", 1)[1].strip() for line in modules_conf.splitlines()
              if line.replace(" ", "").startswith("load=>")]
    running = {line.split()[0] for line in module_show.splitlines() if line.strip()}
    return [m for m in wanted if m not in running]
