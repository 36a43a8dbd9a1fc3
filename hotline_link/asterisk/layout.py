"""Where a site's Asterisk keeps its files (as seen inside its root), and where this host
finds the voice notes it records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hotline_link.core.settings import Settings


@dataclass(frozen=True)
class SiteLayout:
    """Where one site's files live, as seen from inside the chroot."""

    site_id: str

    @property
    def root(self) -> str:
        return f"/srv/hotline-link/sites/{self.site_id}"

    @property
    def etc(self) -> str:
        return f"{self.root}/etc"

    @property
    def config_file(self) -> str:
        return f"{self.etc}/asterisk.conf"

    @property
    def voice_notes(self) -> str:
        """Where the site's Asterisk records the units' voice notes (extensions_feedback.conf)."""
        return f"{self.root}/spool/voice-notes"

    @property
    def recordings(self) -> str:
        """Where the site's Asterisk records calls (MixMonitor, extensions_center.conf)."""
        return f"{self.root}/spool/recordings"

    def dirs(self) -> tuple[str, ...]:
        return tuple(f"{self.root}/{d}" for d in ("etc", "run", "log", "spool", "spool/voice-notes",
                                                  "spool/recordings", "lib", "cache"))


def voice_notes_path(settings: Settings, site: str) -> Path:
    """The directory the units' voice notes of ``site`` are recorded into, as this host sees
    it: ``voice_notes_dir`` ({site}: the site id), else the sandbox root's."""
    if settings.voice_notes_dir:
        return Path(settings.voice_notes_dir.replace("{site}", site))
    return settings.rootfs_dir / SiteLayout(site).voice_notes.lstrip("/")


def recordings_path(settings: Settings, site: str) -> Path:
    """The directory the calls of ``site`` are recorded into, as this host sees it:
    ``recordings_dir`` ({site}: the site id), else the sandbox root's."""
    if settings.recordings_dir:
        return Path(settings.recordings_dir.replace("{site}", site))
    return settings.rootfs_dir / SiteLayout(site).recordings.lstrip("/")
