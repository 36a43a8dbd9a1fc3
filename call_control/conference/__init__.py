"""Three-way call (三方通话): ``state`` is the pure state machine, ``service`` drives it over
AMI. The caller is never left alone in a room: an agent's leave that would do so is
refused, and a caller left alone anyway goes back to intake."""
