"""Asterisk config templates, rendered per site by hotline_link.asterisk.render.

Placeholders are ``{{ name }}``; ``${VAR}`` is Asterisk's own and is left alone.
These are data, not code: nothing here imports anything.
"""
