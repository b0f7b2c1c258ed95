"""Plain Bolt apps the bot is measured against (benchmarks/side_by_side.py)."""
