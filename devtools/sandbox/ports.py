"""Checks that the ports a sandbox needs are free before anything is started."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from hotline_link.core.errors import SandboxError


@dataclass(frozen=True)
class PortNeed:
    owner: str  # e.g. "site 12345 sip"
    host: str
    port: int
    proto: str  # "tcp" | "udp"


def port_in_use(host: str, port: int, proto: str) -> bool:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        if proto == "tcp":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def require_free(needs: list[PortNeed]) -> None:
    for need in needs:
        if port_in_use(need.host, need.port, need.proto):
            raise SandboxError(
                f"port {need.port}/{need.proto} for {need.owner} is already in use; "
                "is another sandbox or program using it? ('hotline-link sandbox down' "
                "stops ours, or change the port in the settings)")


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
