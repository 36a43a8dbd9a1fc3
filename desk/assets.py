"""The desk page's files: its HTML, stylesheet and script (``static/``), and JsSIP bundled
for the browser (``vendor/jssip.min.js``, made by ``make install``: npm ci and the bundle's
build in ``desk/``). They are read each time the page is served, as the supervisor page's
are; without the bundle the plugin does not load (``require_jssip``)."""

from __future__ import annotations

import re
from importlib import resources as package_files
from importlib.resources.abc import Traversable

from hotline_link.core.errors import ConfigError

JSSIP_BUNDLE = "vendor/jssip.min.js"
_END_OF_SCRIPT = re.compile(r"</(script)", re.IGNORECASE)


def _file(path: str) -> Traversable:
    return package_files.files("desk").joinpath(*path.split("/"))


def static(name: str) -> str:
    return _file(f"static/{name}").read_text(encoding="utf-8")


def require_jssip() -> None:
    """Refuse to run a desk whose page would have no softphone."""
    if not _file(JSSIP_BUNDLE).is_file():
        raise ConfigError(f"the desk page's softphone, desk/{JSSIP_BUNDLE}, is missing: run 'make install' "
                          "(it installs JsSIP with npm in desk/ and bundles it), or leave the desk plugin out of "
                          "the setting plugins")


def jssip() -> str:
    """The bundle, ready to sit in a ``<script>`` element: a ``</script`` inside it (in a
    string) would end the element, ``<\\/script`` is the same string to JavaScript."""
    return _END_OF_SCRIPT.sub(r"<\\/\1", _file(JSSIP_BUNDLE).read_text(encoding="utf-8"))
