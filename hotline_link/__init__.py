"""hotline-link: joins the 12345 government hotline and the 110 police call center.

This package holds what every capability shares and no single one owns: settings,
logging, the AMI connection manager, the FastAGI server, the sandbox and the CLI.
Capabilities live in their own top-level packages (call_control, seat_pool, ivr,
agi_scripts).
"""

__version__ = "0.1.0"
