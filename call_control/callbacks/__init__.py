"""The callback queue (回电): callers promised a call back (the IVR's key 2, the web's
requests, missed calls at intake) are called by the next free agent, the server
originating the call: the agent first, then the citizen."""
