"""ivr: the surge IVR for 12345 (self-service answers, callback requests, the web channel,
the emergency key to 110) and harassment screening (恶意滋扰).

Pure, no I/O: ``menu`` and the policy half of ``harassment`` (``verdict``, ``flag_record``).
At the edges: ``prompts`` (espeak-ng and sox at set-up time), ``callback`` (FastAGI),
``events`` (AMI UserEvent to the bus), ``harassment.HarassmentGuard`` (Redis) and
``resources`` (HTTP). The dialplan is ``asterisk_conf/extensions_ivr.conf``.
"""
