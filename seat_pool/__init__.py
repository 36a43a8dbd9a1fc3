"""seat_pool: every agent seat on every site, its state, and claiming one for a call.

``state`` and ``selection`` are pure (no I/O); ``store`` is the Redis edge; ``registry``
turns AMI events into seat state. Nothing here imports call_control.
"""
