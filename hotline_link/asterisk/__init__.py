"""The Asterisk edge: the AMI connection manager, the FastAGI server, where a site keeps its
files, and the rendering of ``asterisk_conf/`` templates. Imports only ``hotline_link.core``
(and ``asterisk_conf`` for its templates)."""
