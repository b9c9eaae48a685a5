"""Bench: a fleet of failed launches investigated the naive way and with `kit batch`, side by side.

    .venv/bin/python bench/batch.py [--fleet 24] [--jobs 2] [--throttle] [--keep DIR]

Seeds a fleet of failing instances in the simulated account (an outage: several causes, each shared by
many instances), finds them with `kit scan` (one parameter file each), then runs, one after the other on
the same simulated account:
- naive: for each parameter file, the `papermill` command, then `jupyter nbconvert --to html --no-input`,
  as subprocesses, one incident after another;
- kit: `kit batch PARAMS... --out DIR --jobs N`.
Prints both wall times, CPU seconds and peak memory (of the whole process tree, kernels included; memory
sampled), the load average, checks that both reached the same verdict for every instance, and ends with
`batch-speedup: <naive/kit>`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from kit.simulate import SimulatedAccount

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "investigate_instance.ipynb"
BIN = Path(sys.executable).parent
# An outage: a key disabled, a key scheduled for deletion, a scheduler's role without CreateGrant, and the
# seed's missing IAM permission, each hitting many instances in two Regions.
FLEET_MIX = (("key-disabled", "eu-west-1"), ("seed", "eu-west-1"), ("scheduler-role", "eu-west-1"),
             ("key-pending-deletion", "us-east-1"), ("seed", "us-east-1"), ("key-disabled", "us-east-1"))
VERDICT = ("cause", "denied_by", "principal_arn", "key_arn", "confidence")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fleet", type=int, default=24, help="failing instances to seed (default 24)")
    parser.add_argument("--jobs", type=int, default=2, help="kit batch --jobs (default 2)")
    parser.add_argument("--throttle", action="store_true", help="LookupEvents throttled to 2 requests/s as in AWS")
    parser.add_argument("--keep", help="keep the reports in this folder (default: a temporary folder)")
    args = parser.parse_args(argv)

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="kit-bench-batch-"))
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with SimulatedAccount(throttle=args.throttle) as sim:
        for number in range(args.fleet):
            name, region = FLEET_MIX[number % len(FLEET_MIX)]
            sim.seed(name, region=region)
        env = {**base_env, **sim.environ()}
        regions = sorted({s.region for s in sim.seeded})
        params = scan_fleet(env, regions, work / "params")
        expected = {s.instance_id: s.expected for s in sim.seeded}
        if sorted(p.stem[p.stem.rindex("-i-") + 1:] for p in params) != sorted(expected):
            raise SystemExit(f"kit scan found {len(params)} instances, {len(expected)} were seeded")
        print(f"fleet: {len(params)} failed instances in {', '.join(regions)} "
              f"({', '.join(sorted({s.name for s in sim.seeded}))}); {os.cpu_count()} cores; "
              f"throttle {'on' if args.throttle else 'off'}", flush=True)

        print(f"load average before: {_load()}", flush=True)
        naive_wall, naive_peak, naive_cpu = measure(lambda: run_naive(env, params, work / "naive"))
        print(f"naive (papermill + nbconvert per incident, one after another): {naive_wall:7.1f} s, "
              f"cpu {naive_cpu:6.1f} s, peak memory {naive_peak / 2**20:7.0f} MiB; load {_load()}", flush=True)
        kit_wall, kit_peak, kit_cpu = measure(lambda: run_kit(env, params, work / "kit", args.jobs))
        print(f"kit batch --jobs {args.jobs}:                                  {kit_wall:7.1f} s, "
              f"cpu {kit_cpu:6.1f} s, peak memory {kit_peak / 2**20:7.0f} MiB; load {_load()}", flush=True)

    naive_verdicts = verdicts(work / "naive")
    kit_verdicts = verdicts(work / "kit")
    agree = sum(1 for i in expected if naive_verdicts.get(i) == kit_verdicts.get(i) is not None)
    right = sum(1 for i, e in expected.items()
                if all((kit_verdicts.get(i) or {}).get(k, "?") == e.get(k) for k in VERDICT[:4]))
    print(f"verdicts: kit and naive agree on {agree}/{len(expected)}; kit matches the seeded cause, layer, "
          f"principal and key on {right}/{len(expected)}")
    summary = json.loads((work / "kit" / "summary.json").read_text())
    print(f"shared evidence: {json.dumps(summary.get('shared_evidence'))}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print(f"cpu ratio (naive/kit, process trees): {naive_cpu / kit_cpu:.2f}")
    print(f"batch-speedup: {naive_wall / kit_wall:.2f}")
    return 0


def scan_fleet(env: dict[str, str], regions: list[str], out: Path) -> list[Path]:
    """`kit scan` over the fleet's Regions: one parameter file per failed instance."""
    command = [str(BIN / "kit"), "scan", "--out", str(out)]
    for region in regions:
        command += ["--region", region]
    subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return sorted(out.glob("*.yaml"))


def run_naive(env: dict[str, str], params: list[Path], out: Path) -> None:
    """papermill, then nbconvert, per incident, one after another (what a script around the CLIs does)."""
    for path in params:
        folder = out / path.stem
        folder.mkdir(parents=True)
        executed = folder / "investigation.ipynb"
        subprocess.run([str(BIN / "papermill"), str(NOTEBOOK), str(executed), "-f", str(path),
                        "-p", "interactive", "False", "-p", "out_dir", str(folder), "--no-progress-bar"],
                       env=env, check=False, capture_output=True)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input", str(executed)],
                       env=env, check=False, capture_output=True)


def run_kit(env: dict[str, str], params: list[Path], out: Path, jobs: int) -> None:
    """`kit batch` over every parameter file."""
    result = subprocess.run([str(BIN / "kit"), "batch", *map(str, params), "--out", str(out), "--jobs", str(jobs)],
                            env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"kit batch exited {result.returncode}: {result.stderr[-2000:]}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(run: Any) -> tuple[float, int, float]:
    """Wall seconds of `run()`, the peak resident memory of this process's children (tree, summed), and the
    CPU seconds of the children it ran (and every descendant they waited for)."""
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        me = psutil.Process()
        while not stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, total)
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        run()
    finally:
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, peak, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def verdicts(folder: Path) -> dict[str, dict[str, Any]]:
    """instance id -> verdict fields, from every findings.json under `folder`."""
    found: dict[str, dict[str, Any]] = {}
    for path in folder.glob("*/findings.json"):
        findings = json.loads(path.read_text())
        found[findings["instance_id"]] = {k: findings["verdict"].get(k) for k in VERDICT}
    return found


if __name__ == "__main__":
    sys.exit(main())
