"""Bench: `kit demo` wall time, against the sequential path it replaced, side by side.

    .venv/bin/python bench/demo.py [--runs 3]

Each run is a fresh process, as a user types it:
- kit demo: `kit demo --out DIR` (kernel start, simulated account and imports overlapped);
- sequential (the previous `kit demo`): start the simulated account and seed, then run the notebook with
  papermill in a kernel started only then, then export (same run_investigation, nothing overlapped).
Prints the median wall time of each (and the CPU seconds of its whole process tree, kernel included: on a
shared machine wall time follows the load, CPU time much less), the ratio, the load average, and
`demo-wall: <s>` (goal: at most 8 s).
"""

from __future__ import annotations

import argparse
import os
import resource
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


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system of the process and every descendant it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each (default 3)")
    args = parser.parse_args(argv)
    kit_walls, sequential_walls, kit_cpus, sequential_cpus = [], [], [], []
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="kit-bench-demo-") as work:
        for run in range(args.runs):  # interleaved, so both see the same machine load
            wall, cpu = timed([str(BIN / "kit"), "demo", "--out", f"{work}/kit-{run}"])
            kit_walls.append(wall)
            kit_cpus.append(cpu)
            wall, cpu = timed([sys.executable, "-c", SEQUENTIAL, f"{work}/sequential-{run}"])
            sequential_walls.append(wall)
            sequential_cpus.append(cpu)
            print(f"run {run + 1}: kit demo {kit_walls[-1]:5.1f} s (cpu {kit_cpus[-1]:4.1f} s), "
                  f"sequential {sequential_walls[-1]:5.1f} s (cpu {sequential_cpus[-1]:4.1f} s)", flush=True)
        for run in range(args.runs):
            for name in ("kit", "sequential"):
                if not (Path(work) / f"{name}-{run}" / "report.html").exists():
                    raise SystemExit(f"{name} run {run + 1} wrote no report.html")
    kit, sequential = statistics.median(kit_walls), statistics.median(sequential_walls)
    print(f"kit demo:   median {kit:5.1f} s, cpu {statistics.median(kit_cpus):4.1f} s")
    print(f"sequential: median {sequential:5.1f} s, cpu {statistics.median(sequential_cpus):4.1f} s "
          f"(ratio {sequential / kit:.2f})")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"demo-wall: {kit:.1f} (goal <= {GOAL_S:.0f} s: {'met' if kit <= GOAL_S else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
