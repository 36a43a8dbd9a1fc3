"""Joint analysis and early warning (融合研判、风险预警): hot spots and summaries over a
platform's tickets, surge and danger-cue alerts, and the periodic report packs."""
