"""Run every benchmark and print its figures: `python -m benchmarks` (or `make bench`)."""

from __future__ import annotations

import logging

from benchmarks import ack_latency, move, notices, scale, side_by_side, sweep
from tests.postgres import Cluster


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    try:
        cluster: Cluster | None = Cluster()
    except Exception as error:
        print(f"PostgreSQL not available ({error}); SQLite figures only")
        cluster = None
    try:
        sweep.main(cluster.new_database if cluster else None)
        ack_latency.main(cluster.new_database() if cluster else None)
        side_by_side.main()
        notices.main()
        scale.main(cluster.new_database if cluster else None)
        move.main(cluster.new_database if cluster else None)
    finally:
        if cluster:
            cluster.stop()


if __name__ == "__main__":
    main()
