"""seat_pool: every agent seat on every site, its state, claiming one for a call, the waiting
queue and overflow to remote seats (远程座席).

Pure: ``state``, ``selection``, ``skills``, ``routing``, ``overflow_policy``. Edges:
``store`` and ``waiting`` (Redis), ``registry`` (AMI events into seat state), ``router`` and
``overflow`` (decisions applied), ``resources`` (HTTP). Imports no other capability.
"""
