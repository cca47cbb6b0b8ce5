"""One process of the pool race in test_instance_storage: claim a one-slot pool in rounds.

Each round starts at the same instant in every process (`start + round * period`). A process
that wins the slot holds it briefly and frees it; the (claimed, freed) times it prints as JSON
let the test check that no two processes ever held the slot together.
"""

import json
import os
import sys
import time

import dagster as dg

POOL = "duckdb_race"


def main(start: float, rounds: int, period: float) -> None:
    storage = dg.DagsterInstance.get().event_log_storage
    run_id = f"claimer-{os.getpid()}"
    held = []
    for round_ in range(rounds):
        due = start + round_ * period
        time.sleep(max(0.0, due - time.time() - 0.005))
        while time.time() < due:
            pass  # spin the last few milliseconds, so that the processes claim as close together as they can
        step = f"step_{round_}"
        if storage.claim_concurrency_slot(POOL, run_id, step, 0).is_claimed:
            claimed = time.time()
            time.sleep(period / 4)
            freed = time.time()
            held.append((claimed, freed))
        storage.free_concurrency_slot_for_step(run_id, step)
    print(json.dumps(held))


if __name__ == "__main__":
    main(float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
