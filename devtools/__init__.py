"""Dev tools, apart from the product: the local sandbox (Asterisk 22 sites and Redis), SIPp
peers, benchmarks, chaos and the demo. A distribution of its own (``devtools/pyproject.toml``),
never in the product's wheel; it adds its commands to ``hotline-link`` through the
``hotline_link.commands`` entry point group. It may import the product; nothing in the
product imports it."""
