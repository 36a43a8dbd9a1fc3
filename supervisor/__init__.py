"""supervisor: the supervisor's live dashboard.

A package of its own because its view spans the other capabilities: seat states from
``seat_pool``, calls, transfers and three-way calls from ``call_control``, overflow and
queue events from routing, history in Redis. It only *reads* what they publish on the
event bus and in Redis (plus three supervisor actions that call their public methods), so
no other package imports it.

``figures`` and ``history`` are pure (no I/O, the clock is passed in); ``service`` is the
edge that feeds them from the bus and Redis; ``resources`` holds the thin HTTP handlers;
``static/`` is the page (plain HTML/CSS/JS, no build step).
"""
