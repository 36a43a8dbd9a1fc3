"""exchange: the exchange channel (交互通道) between the 12345 deployment and the 110
deployment, "建立工单警单在线交互通道，实现双向派单、跟踪督办、反馈回写" (seed 003). Each
platform runs its own hotline-link with its own Redis; they meet only over the SIP trunk
and this channel: versioned, signed messages, at least once, idempotent on a message id,
ordered per ticket, replay refused outside a time window, each direction with its own key.

What it owns: the message catalogue (``messages``: the envelope, one body per type, its
JSON Schema), the seeds' rules at the boundary (``boundary``: what leaves, what is let
in), the receiver's ordering and idempotency (``inbox``), the sender's sequencing
(``sequencing``), the keys of each direction (``keys``), the receiver's answer
(``receipts``), the wire format both ways (``wire``) and what the edge needs of the inbox
(``ports``). See docs/exchange.md.

All of these are pure: they do no I/O and read no clock (the time is an argument). They
may import ``hotline_link.core`` and the pure parts of ``tickets`` (``store.Ticket`` and its
id rules, ``sharing``, ``push_policy``, ``signing``); ``tickets.store`` also holds the
Redis store, so importing ``Ticket`` loads redis-py, though nothing here calls it.
Around them, the HTTP edge: ``client`` (the sender's attempt), ``resources`` and
``schema`` (the receiving endpoint); the Redis edge: ``outbox_store``, ``inbox_store``,
``audit``; and the plugin: ``config``, ``effects`` (its decisions, pure), ``service``,
``operations`` and ``plugin``.
"""
