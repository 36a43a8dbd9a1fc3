"""The seat pool's reading of the settings: each seat's skills, the overflow policy, and the
checks a config must pass before the seat pool may run on it (``check_settings``)."""

from __future__ import annotations

from hotline_link.core.errors import ConfigError
from hotline_link.core.settings import Settings, SiteSettings
from seat_pool.overflow_policy import OverflowPolicyConfig
from seat_pool.skills import KNOWN_SKILLS, default_skills, wanted_skills


def overflow_policy(settings: Settings) -> OverflowPolicyConfig:
    """The overflow thresholds of ``settings``; a bad one is a ConfigError naming it."""
    return OverflowPolicyConfig(
        enter_wait_s=settings.overflow_enter_wait_s, exit_wait_s=settings.overflow_exit_wait_s,
        enter_hold_s=settings.overflow_enter_hold_s, exit_hold_s=settings.overflow_exit_hold_s,
        max_remote_share=settings.overflow_max_remote_share,
        handoff_timeout_s=settings.overflow_handoff_timeout_s)


def skills_of_site(settings: Settings, site: SiteSettings) -> dict[str, tuple[str, ...]]:
    defaults = default_skills(site.id, site.agents)
    return {a: settings.skills.get(a, defaults[a]) for a in site.agents}


def check_settings(settings: Settings) -> None:
    """Unknown skill names (a typo would starve a seat of calls), a center whose calls' skill
    no seat has, and bad overflow thresholds are refused."""
    for agent, skills in settings.skills.items():
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
    overflow_policy(settings)
