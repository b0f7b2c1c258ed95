"""Block Kit kit every feature builds with (slack_sdk's typed models): controls, limits, views,
how a connection is described, and the remedies' buttons. Each feature's own messages live
in its folder."""
