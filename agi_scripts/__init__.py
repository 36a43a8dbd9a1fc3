"""agi_scripts: dialplan hooks. Each module serves FastAGI (inside the server) and can run
as a classic process AGI with pyst2 (``python -m agi_scripts.route``) for sites that prefer
it. Decisions come from seat_pool; this package only speaks AGI."""
