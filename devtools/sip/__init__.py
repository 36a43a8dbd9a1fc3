"""SIPp peers for the sandbox: softphones, callers, handsets, and their DTMF media."""
