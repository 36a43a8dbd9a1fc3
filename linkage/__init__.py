"""The closed loop after a case leaves the call centers (闭环运行): handling units (联动单位),
dispatch to them, their feedback, deadlines with 督办 and 提级, repeat calls (双哨联办), and
the linkage report.

Pure modules (``units``, ``calendar``, ``policy``, ``repeats``, ``lifecycle``, ``handovers``,
``redis_keys``, ``report``) import no I/O; ``records``, ``journal``, ``dispatching``,
``feedback``, ``callbacks``, ``deadlines``, ``supervision``, ``repeat_calls``, ``phone`` and
``resources`` are the Redis, AMI and HTTP edges, built and wired by ``service``.
"""
