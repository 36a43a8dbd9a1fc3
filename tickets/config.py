"""The tickets capability's settings: its ``[tickets]`` table (where system push sends
tickets, and over what; the transfer catalog ``/api/classify`` ranks with)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, ValidationInfo, field_validator

from hotline_link.core.net import url_refusal
from hotline_link.core.settings import SMS_SECRET, Section
from tickets.catalog import JURISDICTION_NAME, available_jurisdictions

DEFAULT_CATALOG = "default"


def _sandbox_targets() -> dict[str, str]:
    return {"12345": "http://127.0.0.1:8080/api/intake/push", "110": "http://127.0.0.1:8080/api/intake/push"}


class TicketsConfig(Section):
    table: ClassVar[str] = "tickets"

    # plain http for pushes and units' webhooks, to a loopback address only (the sandbox,
    # where one server plays both platforms); anything else must be https
    push_allow_http_loopback: bool = True
    # where system push sends tickets, per platform ([tickets.push_targets] table); in the
    # sandbox one server plays both platforms, so both point at its own intake endpoint
    push_targets: dict[str, str] = Field(default_factory=_sandbox_targets)
    # the transfer catalog /api/classify ranks with (tickets/data/catalog/{name}.csv); empty:
    # the deployment's jurisdiction, the one its linkage units directory names
    catalog_jurisdiction: str = ""

    @field_validator("catalog_jurisdiction")
    @classmethod
    def _shipped(cls, name: str) -> str:
        """A catalog that is not shipped is refused now, not at the first classification."""
        if name and name not in available_jurisdictions():
            raise ValueError(f"catalog_jurisdiction: no catalog {name!r} "
                             f"(shipped: {', '.join(available_jurisdictions())})")
        return name

    # the platform whose tickets reports from channels open (web, SMS, app, 公众号; POST
    # /api/tickets): "" is the one platform this deployment serves, or 12345 when it serves both
    intake_site: str = ""
    # 受理回执: where a ticket opened from an SMS answers its sender (the SMS gateway's send
    # URL, through the outbox, signed with the secrets file's entry named by
    # sms_reply_secret_ref, one of sms_secret or sms_secret_<name>); "": no reply is sent
    sms_reply_url: str = ""
    sms_reply_secret_ref: str = "sms_secret"

    @field_validator("sms_reply_url")
    @classmethod
    def _reply_url(cls, url: str, info: ValidationInfo) -> str:
        """A reply URL the outbox would never send to is refused now, not at the first SMS."""
        if url:
            refusal = url_refusal(url, info.data.get("push_allow_http_loopback", True))
            if refusal:
                raise ValueError(f"sms_reply_url: {refusal}")
        return url

    @field_validator("sms_reply_secret_ref")
    @classmethod
    def _secret_name(cls, name: str) -> str:
        if not SMS_SECRET.fullmatch(name):
            raise ValueError("sms_reply_secret_ref: expected sms_secret or sms_secret_<1-32 of A-Z a-z 0-9>")
        return name

    @field_validator("push_targets", mode="before")
    @classmethod
    def _urls(cls, raw: Any) -> dict[str, str]:
        if not isinstance(raw, dict) or not all(
                isinstance(v, str) and v.startswith(("http://", "https://")) for v in raw.values()):
            raise ValueError("push_targets: expected a table of platform = \"http(s)://...\"")
        return {str(k): v for k, v in raw.items()}

    @field_validator("push_targets")
    @classmethod
    def _sendable(cls, targets: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        """A target the outbox would never send to is refused now, not at the first push."""
        allow = info.data.get("push_allow_http_loopback", True)
        for platform, url in targets.items():
            refusal = url_refusal(url, allow)
            if refusal:
                raise ValueError(f"push_targets.{platform}: {refusal}")
        return targets

    @classmethod
    def parse(cls, raw: Any, origins: Any = None) -> TicketsConfig:
        # the default targets must pass the rule too when http is not allowed
        return super().parse({"push_targets": _sandbox_targets(), **raw}, origins)


def classify_jurisdiction(configured: str, units_jurisdiction: str) -> str:
    """The catalog ``/api/classify`` ranks with: ``catalog_jurisdiction`` when set, else the
    jurisdiction of the linkage units directory (``linkage_jurisdiction``: a deployment has
    one), else ``default``. A units file of one's own (a ``.csv`` path) names no shipped
    catalog by itself: its deployment sets ``catalog_jurisdiction`` or gets the default."""
    if configured:
        return configured
    if JURISDICTION_NAME.match(units_jurisdiction) and units_jurisdiction in available_jurisdictions():
        return units_jurisdiction
    return DEFAULT_CATALOG
