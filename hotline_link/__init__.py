"""hotline-link: joins the 12345 government hotline and the 110 police call center.

Layers, imported one way only (checked by the import contract in ``pyproject.toml``):

- ``hotline_link.core``: errors, the event bus, logs, phone numbers, settings, tasks.
- ``hotline_link.asterisk``: AMI and FastAGI, the site layout and config rendering.
- ``hotline_link.web``: the HTTP edge: auth, middlewares, OpenAPI.
- the capabilities (``call_control``, ``seat_pool``, ``tickets``, ``linkage``, ``ivr``,
  ``supervisor``, ``agi_scripts``), each a plugin.
- ``hotline_link.app`` and ``hotline_link.cli``: the composition root and the command.

Dev tools (sandbox, SIP peers, benchmarks, chaos, demo) are the separate ``devtools``
distribution; nothing here imports it.
"""

__version__ = "0.1.0"
