"""call_control: calls as hotline-link sees them, and (later) transfers and conferences.

``calls.CallBook`` is a pure state machine over channel events; ``tracker`` feeds it from
AMI and logs/publishes what it decides. Nothing here talks to Redis or HTTP directly.
"""
