"""The seat pool's settings: its ``[seat_pool]`` table (seat claims, wrap-up, the waiting
queue, surge overflow and IVR offer, each seat's skills), and the checks a config must pass
before the seat pool may run on it (``check_settings``)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, field_validator

from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Section, Settings, SiteSettings, id_list
from seat_pool.overflow_policy import OverflowPolicyConfig
from seat_pool.skills import KNOWN_SKILLS, default_skills, wanted_skills

_POLICY = OverflowPolicyConfig()  # the overflow thresholds' defaults are the policy's own


class SeatPoolConfig(Section):
    table: ClassVar[str] = "seat_pool"

    seat_claim_ttl_s: int = 20
    wrap_up_s: float = 0.0  # after-call work: a seat gets no new call for this long
    # --- waiting queue, surge overflow and IVR (README "Seat pool, queue and overflow") ---
    queue_max_wait_s: float = 300.0  # a queued caller is then offered to every seat (ring-all)
    overflow_centers: str = "12345"  # comma-separated centers that may overflow (never 110)
    overflow_enter_wait_s: float = _POLICY.enter_wait_s
    overflow_exit_wait_s: float = _POLICY.exit_wait_s
    overflow_enter_hold_s: float = _POLICY.enter_hold_s
    overflow_exit_hold_s: float = _POLICY.exit_hold_s
    overflow_max_remote_share: float = _POLICY.max_remote_share
    overflow_handoff_timeout_s: float = _POLICY.handoff_timeout_s
    overflow_tick_s: float = 1.0
    default_handle_time_s: float = 180.0  # until real handle times are measured
    overflow_arrival_window_s: float = 120.0  # the arrival rate is measured over this window
    ivr_sites: str = "12345"  # comma-separated centers whose queued callers get the surge IVR
    ivr_offer_wait_s: float = 45.0  # offer the IVR when a new caller's estimated wait exceeds this
    # seat skills, agent -> skills ([seat_pool.skills] table, "1001" = ["general", "police_desk"]);
    # empty: each site's defaults (seat_pool.skills.default_skills)
    skills: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @field_validator("skills", mode="before")
    @classmethod
    def _skills(cls, raw: Any) -> dict[str, tuple[str, ...]]:
        if not isinstance(raw, dict):
            raise ValueError('skills: expected a table of agent = ["skill", ...]')
        out = {}
        for agent, skills in raw.items():
            if isinstance(skills, tuple):
                skills = list(skills)
            if not isinstance(skills, list) or not skills or not all(
                    isinstance(x, str) and x.strip() for x in skills):
                raise ValueError(f"skills.{agent}: expected a non-empty list of skill names")
            out[str(agent)] = tuple(x.strip() for x in skills)
        return out

    @field_validator("overflow_centers")
    @classmethod
    def _never_110(cls, value: str) -> str:
        # overflow_centers / ivr_sites naming no site of this config (a config without a remote
        # site, say) simply have no effect there; the server logs what overflows at start-up
        if "110" in id_list(value):
            raise ValueError("overflow_centers: 110 calls are never sent to remote seats")
        return value

    @field_validator("queue_max_wait_s", "overflow_tick_s")
    @classmethod
    def _above_zero(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("queue_max_wait_s and overflow_tick_s must be above 0")
        return value

    @property
    def overflow_center_ids(self) -> frozenset[str]:
        return id_list(self.overflow_centers)

    @property
    def ivr_site_ids(self) -> frozenset[str]:
        return id_list(self.ivr_sites)

    def overflow_policy(self) -> OverflowPolicyConfig:
        """The overflow thresholds; a bad one is a ConfigError naming it."""
        return OverflowPolicyConfig(
            enter_wait_s=self.overflow_enter_wait_s, exit_wait_s=self.overflow_exit_wait_s,
            enter_hold_s=self.overflow_enter_hold_s, exit_hold_s=self.overflow_exit_hold_s,
            max_remote_share=self.overflow_max_remote_share,
            handoff_timeout_s=self.overflow_handoff_timeout_s)


def overflow_policy(settings: Settings) -> OverflowPolicyConfig:
    """The overflow thresholds of ``settings``; a bad one is a ConfigError naming it."""
    return settings.section(SeatPoolConfig).overflow_policy()


def skills_of_site(settings: Settings, site: SiteSettings) -> dict[str, tuple[str, ...]]:
    defaults = default_skills(site.id, site.agents)
    skills = settings.section(SeatPoolConfig).skills
    return {a: skills.get(a, defaults[a]) for a in site.agents}


def check_settings(settings: Settings) -> None:
    """Unknown skill names (a typo would starve a seat of calls), a center whose calls' skill
    no seat has, and bad overflow thresholds are refused."""
    config = settings.section(SeatPoolConfig)
    for agent, skills in config.skills.items():
        unknown = set(skills) - KNOWN_SKILLS
        if unknown:
            raise ConfigError(f"skills.{agent}: unknown skill {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(sorted(KNOWN_SKILLS))}")
    for site in settings.sites:
        if not site.intake or not site.agents:
            continue
        base = wanted_skills(site.id, "")[-1]
        if not any(base in skills for skills in skills_of_site(settings, site).values()):
            raise ConfigError(f"skills: no seat of site {site.id} has the skill {base!r} its calls need")
    config.overflow_policy()
