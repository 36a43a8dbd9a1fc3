"""The sandbox's TLS pair for each site's WSS (the desk page's browser phones): self-signed,
made once with the host's openssl, kept across ``sandbox up``. A browser trusts it only
after the agent accepts it (or with Chromium's --ignore-certificate-errors in the tests);
an operator puts the site's real certificate in the same place."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import structlog

from hotline_link.core.errors import SandboxError

log = structlog.get_logger(__name__)

DAYS = 3650


def ensure_site_certificate(tls_dir: Path, host: str, uid: int, gid: int) -> bool:
    """``asterisk.crt``/``asterisk.key`` in ``tls_dir`` for ``host``; whether it made them."""
    cert, key = tls_dir / "asterisk.crt", tls_dir / "asterisk.key"
    if cert.is_file() and key.is_file():
        return False
    if shutil.which("openssl") is None:
        raise SandboxError("openssl is not installed (Debian package openssl): the sandbox's WSS needs it")
    tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    san = f"IP:{host}" if host.replace(".", "").isdigit() else f"DNS:{host}"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(DAYS),
                        "-subj", f"/CN={host}", "-addext", f"subjectAltName={san}",
                        "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"openssl could not make the sandbox's certificate: {exc}") from None
    os.chmod(key, 0o600)
    for path in (tls_dir, cert, key):
        os.chown(path, uid, gid)
    log.info("sandbox.certificate_made", dir=str(tls_dir), host=host)
    return True
