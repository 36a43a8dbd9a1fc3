"""Addresses: which hosts are loopback, and where a signed body may be sent. Pure."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_refusal(url: str, allow_http_loopback: bool) -> str | None:
    """Why a signed body (a push, a unit's webhook) may not go to ``url``, or None: https
    anywhere, plain http only to a loopback address and only when allowed."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "not a URL"
    if parts.scheme == "https" and host:
        return None
    if parts.scheme != "http" or not host:
        return "only https:// URLs are allowed"
    if is_loopback(host) and allow_http_loopback:
        return None
    return "http:// is allowed only to a loopback address, and only with push_allow_http_loopback"
