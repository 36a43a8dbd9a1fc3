"""agi_scripts: dialplan hooks. ``route`` serves FastAGI inside the server (registered by
this package's plugin) and can run as a classic process AGI with pyst2
(``python -m agi_scripts.route``) for sites that prefer it. Decisions come from seat_pool,
screening from ivr, tickets from tickets; this package only speaks AGI."""
