"""desk: the agent's desk page (坐席工作台).

A package of its own, like ``supervisor``, because the agent's view spans the other
capabilities: the seat from ``seat_pool``, the call, transfers, consults and three-way calls
from ``call_control``, the ticket and its push from ``tickets``, dispatch from ``linkage``.
The page calls their HTTP API with the agent's token; nothing imports this package.

``softphone`` says what the agent's phone registers with (the browser, for a site's
``webrtc_agents``); ``page`` builds the page as served; ``resources`` holds the thin HTTP
handlers; ``static/`` is the page (plain HTML/CSS/JS); ``vendor/jssip.min.js`` is JsSIP
bundled for the browser by ``make install`` (``package.json``).
"""
