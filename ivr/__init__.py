"""ivr: the surge IVR for 12345 (self-service answers, callback requests, the web channel).
Not built yet; see the seat-pool issue."""
