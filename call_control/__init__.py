"""call_control: calls as hotline-link sees them, one-click (blind) transfer to the other
platform with the ticket riding along, the three-way call, and the agents' event stream.

Pure: ``calls.CallBook`` (a state machine over channel events), ``transfer.state`` and
``conference.state``, ``directory``. Edges: ``tracker`` (AMI into the call book),
``transfer.service`` and ``conference.service`` (AMI actions, Redis locks), ``resources``
(HTTP), ``agent_events`` (WebSocket). May import ``tickets`` (a call's ticket) and the
infrastructure layers; no capability imports it but ``supervisor``.
"""
