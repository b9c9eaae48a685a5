"""Bench: `kit demo` wall time, against the sequential path it replaced, side by side.

    .venv/bin/python bench/demo.py [--runs 3]

Each run is a fresh process, as a user types it:
- kit demo: `kit demo --out DIR` (kernel start, simulated account and imports overlapped);
- sequential (the previous `kit demo`): start the simulated account and seed, then run the notebook with
  papermill in a kernel started only then, then export (same run_investigation, nothing overlapped).
Prints the median wall time of each, the ratio, and `demo-wall: <s>` (goal: at most 8 s).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
GOAL_S = 8.0
SEQUENTIAL = """
import sys
from kit.params import validate
from kit.report.demo import environment
from kit.report.run import run_investigation
from kit.simulate import SimulatedAccount
with SimulatedAccount(scenarios=["seed"]) as sim:
    seeded = sim.seeded[0]
    params = validate({"scenario": "seed", "instance_id": seeded.instance_id, "region": seeded.region,
                       "source": "live", "interactive": False}, require_target=True)
    with environment(sim.environ()):
        result = run_investigation(params, sys.argv[1])
sys.exit(0 if result.error_name is None else 1)
"""


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each (default 3)")
    args = parser.parse_args(argv)
    kit_walls, sequential_walls = [], []
    with tempfile.TemporaryDirectory(prefix="kit-bench-demo-") as work:
        for run in range(args.runs):  # interleaved, so both see the same machine load
            kit_walls.append(timed([str(BIN / "kit"), "demo", "--out", f"{work}/kit-{run}"]))
            sequential_walls.append(timed([sys.executable, "-c", SEQUENTIAL, f"{work}/sequential-{run}"]))
            print(f"run {run + 1}: kit demo {kit_walls[-1]:5.1f} s, sequential {sequential_walls[-1]:5.1f} s", flush=True)
        for run in range(args.runs):
            for name in ("kit", "sequential"):
                if not (Path(work) / f"{name}-{run}" / "report.html").exists():
                    raise SystemExit(f"{name} run {run + 1} wrote no report.html")
    kit, sequential = statistics.median(kit_walls), statistics.median(sequential_walls)
    print(f"kit demo:   median {kit:5.1f} s")
    print(f"sequential: median {sequential:5.1f} s (ratio {sequential / kit:.2f})")
    print(f"demo-wall: {kit:.1f} (goal <= {GOAL_S:.0f} s: {'met' if kit <= GOAL_S else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
