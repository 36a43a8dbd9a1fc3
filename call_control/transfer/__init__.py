"""One-click transfer (一键转接): ``state`` is the pure state machine, ``service`` drives it
over AMI. The caller is never dropped: the dialplan returns a caller whose transfer failed
to the agent who transferred, or to intake."""
