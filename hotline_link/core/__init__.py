"""What every capability shares and none owns: the error tree, the event bus, logging,
phone numbers, settings, tasks, time zone, Redis client. Imports nothing of hotline-link
outside ``hotline_link.core``."""
