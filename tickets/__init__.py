"""tickets: the case behind every call (工单/警单), its story (call-to-ticket linkage), the
transfer catalog (分流转办事项清单) that says which platform a matter belongs to, what may be
shared with the other platform, and moving tickets between platforms (system push, through
the outbox).

Pure: ``catalog``, ``recommend``, ``sharing``, ``push_policy``, ``signing``. Edges:
``store``, ``timeline`` and ``outbox`` (Redis), ``push`` (HTTP out), ``resources`` (HTTP in).
Imports no other capability; call control, linkage, IVR and the route hook import it.
"""
