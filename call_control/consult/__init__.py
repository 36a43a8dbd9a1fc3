"""Warm (attended) transfer: the agent talks to the target first, the caller on hold."""
