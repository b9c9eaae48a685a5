"""Bench: live collection of the seed incident from the simulated account, throttled vs not.

    .venv/bin/python bench/collect.py [--runs N] [--scenario NAME]

Runs the collection N times back to back (so the 2 requests/s LookupEvents token bucket really drains)
with the simulator's throttle on, and the same with it off as the baseline; prints per run the AWS calls
made (the kit's count, the budget is 20), the HTTP requests sent (retries included), the LookupEvents
calls, and wall time; then the medians and the throttled/unthrottled ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

import boto3

from kit.collect.live import collect_live
from kit.simulate import SimulatedAccount

CALL_BUDGET = 20


def collect_once(sim: SimulatedAccount, scenario: Any) -> dict[str, Any]:
    """One collection; returns calls, HTTP requests (retries included), lookups and wall seconds."""
    env = sim.environ(scenario.region)
    os.environ["AWS_ENDPOINT_URL"] = env["AWS_ENDPOINT_URL"]
    session = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=scenario.region)
    sent: list[str] = []
    session.events.register("before-send", lambda request, **_: sent.append(request.url))
    started = time.perf_counter()
    evidence = collect_live(scenario.instance_id, scenario.region, session=session)
    wall = time.perf_counter() - started
    lookups = sum(c["operation"] == "cloudtrail:LookupEvents" for c in evidence.calls)
    return {"calls": len(evidence.calls), "requests": len(sent), "lookups": lookups, "wall": wall,
            "gaps": len(evidence.gaps), "documents": len(evidence.documents)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenario", default="seed")
    args = parser.parse_args(argv)
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]

    results: dict[str, list[dict[str, Any]]] = {}
    with SimulatedAccount(scenarios=[args.scenario], throttle=False) as plain:
        scenario = plain.scenario(args.scenario)
        # a second server over the same simulated world, with AWS's LookupEvents throttle
        with SimulatedAccount(throttle=True) as throttled:
            for label, sim in (("throttle off", plain), ("throttle on", throttled)):
                results[label] = [collect_once(sim, scenario) for _ in range(args.runs)]

    print(f"scenario {args.scenario} ({scenario.instance_id}), {args.runs} back-to-back runs each")
    print(f"{'':14}{'calls':>6}{'requests':>10}{'lookups':>9}{'wall s':>9}{'docs':>6}{'gaps':>6}")
    for label, runs in results.items():
        for i, run in enumerate(runs, 1):
            print(f"{label + ' #' + str(i):14}{run['calls']:>6}{run['requests']:>10}{run['lookups']:>9}"
                  f"{run['wall']:>9.3f}{run['documents']:>6}{run['gaps']:>6}")
    off = statistics.median(r["wall"] for r in results["throttle off"])
    on = statistics.median(r["wall"] for r in results["throttle on"])
    calls = max(r["calls"] for runs in results.values() for r in runs)
    print(f"median wall: throttle off {off:.3f}s, throttle on {on:.3f}s, ratio {on / off:.2f}x")
    print(f"calls per collection: at most {calls} (budget {CALL_BUDGET}: {'ok' if calls <= CALL_BUDGET else 'OVER'})")
    return 0 if calls <= CALL_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
