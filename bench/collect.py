"""Bench: live collection of the seed incident from the simulated account, throttled vs not.

    .venv/bin/python bench/collect.py [--runs N] [--scenario NAME]

Runs the collection N times back to back with the simulator's 2 requests/s LookupEvents throttle on, the
same with it off as the baseline, and once more throttled while a competing client of the account spends
the LookupEvents budget just before each of the kit's lookups (so every lookup is throttled and retried);
prints per run the AWS calls made (the kit's count; the budget is 20 for the incident, plus the look-back for
changes, whose own budget is printed: kit.collect.change_lookups.lookup_budget queries of change_max_pages pages
each), the HTTP requests sent (retries included), the LookupEvents calls, and wall time (for the contended runs it includes the competing
client's own requests); then the medians and the ratios to the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

import boto3
from botocore.config import Config

from kit.collect.limits import INCIDENT_CALL_BUDGET, organization_call_budget
from kit.collect.change_lookups import lookup_budget, principal_policy_arns
from kit.collect.cloudtrail_window import CollectWindow
from kit.collect.live import collect_live
from kit.simulate import SimulatedAccount

CALL_BUDGET = INCIDENT_CALL_BUDGET


def collect_once(sim: SimulatedAccount, scenario: Any, compete: bool = False) -> dict[str, Any]:
    """One collection; returns calls, HTTP requests (retries included), lookups and wall seconds.

    compete: before each LookupEvents request leaves, another client of the account empties the
    LookupEvents token bucket (a second tool polling CloudTrail), so every lookup meets throttling.
    """
    env = sim.environ(scenario.region)
    os.environ["AWS_ENDPOINT_URL"] = env["AWS_ENDPOINT_URL"]
    session = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=scenario.region)
    sent: list[str] = []
    session.events.register("before-send", lambda request, **_: sent.append(request.url))
    if compete:
        rival = boto3.client("cloudtrail", region_name=scenario.region, endpoint_url=env["AWS_ENDPOINT_URL"],
                             aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                             aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                             config=Config(retries={"mode": "standard", "max_attempts": 1}))
        spent = {"first": set()}

        def spend_budget(request: Any, **_: Any) -> None:
            key = request.body
            if key in spent["first"]:
                return  # only before a lookup's first attempt: its retries then compete fairly
            spent["first"].add(key)
            for _ in range(50):
                try:
                    rival.lookup_events(MaxResults=1)
                except rival.exceptions.ClientError:
                    return

        session.events.register("before-send.cloudtrail.LookupEvents", spend_budget)
    started = time.perf_counter()
    evidence = collect_live(scenario.instance_id, scenario.region, session=session)
    wall = time.perf_counter() - started
    lookups = sum(c["operation"] == "cloudtrail:LookupEvents" for c in evidence.calls)
    since = (evidence.parameters.get("change_window") or {}).get("start")
    changes = sum(c["operation"] == "cloudtrail:LookupEvents" and c["params"].get("StartTime") == since
                  for c in evidence.calls)
    principal = evidence.parameters.get("launching_principal") or {}
    policies = principal_policy_arns(evidence.documents.get("iam.get-account-authorization-details.json"),
                                     principal.get("kind"), principal.get("name"))
    budget = lookup_budget(len(evidence.parameters.get("keys") or []), len(policies),
                           "ec2.get-ebs-default-kms-key-id.json" in evidence.documents)
    organizations = sum(c["operation"].startswith("organizations:") for c in evidence.calls)
    targets = sum(name.startswith("organizations.list-policies-for-target.") for name in evidence.documents)
    scps = sum(name.startswith("organizations.describe-policy.") for name in evidence.documents)
    return {"calls": len(evidence.calls) - changes - organizations, "organizations": organizations,
            "organizations_budget": organization_call_budget(max(targets, 1), scps), "requests": len(sent), "lookups": lookups, "wall": wall,
            "gaps": len(evidence.gaps), "documents": len(evidence.documents), "changes": changes,
            "change_budget": budget * CollectWindow().change_max_pages}


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
            for label, sim, compete in (("throttle off", plain, False), ("throttle on", throttled, False),
                                        ("contended", throttled, True)):
                results[label] = [collect_once(sim, scenario, compete) for _ in range(args.runs)]

    print(f"scenario {args.scenario} ({scenario.instance_id}), {args.runs} back-to-back runs each")
    print(f"{'':14}{'calls':>6}{'changes':>8}{'requests':>10}{'lookups':>9}{'wall s':>9}{'docs':>6}{'gaps':>6}")
    for label, runs in results.items():
        for i, run in enumerate(runs, 1):
            print(f"{label + ' #' + str(i):14}{run['calls']:>6}{run['changes']:>8}{run['requests']:>10}{run['lookups']:>9}"
                  f"{run['wall']:>9.3f}{run['documents']:>6}{run['gaps']:>6}")
    off = statistics.median(r["wall"] for r in results["throttle off"])
    on = statistics.median(r["wall"] for r in results["throttle on"])
    contended = statistics.median(r["wall"] for r in results["contended"])
    calls = max(r["calls"] for runs in results.values() for r in runs)
    print(f"median wall: throttle off {off:.3f}s, throttle on {on:.3f}s (ratio {on / off:.2f}x), "
          f"throttle on with a competing client {contended:.3f}s (ratio {contended / off:.2f}x)")
    print(f"calls per collection besides Organizations: at most {calls} "
          f"(budget {CALL_BUDGET}: {'ok' if calls <= CALL_BUDGET else 'OVER'})")
    org_over = any(r["organizations"] > r["organizations_budget"] for runs in results.values() for r in runs)
    print(f"Organizations reads (SCPs): at most {max(r['organizations'] for runs in results.values() for r in runs)} "
          f"(budget by the organization's depth and SCPs: {'OVER' if org_over else 'ok'})")
    changes = max(r["changes"] for runs in results.values() for r in runs)
    change_budget = max(r["change_budget"] for runs in results.values() for r in runs)
    print(f"change look-back calls per collection: at most {changes} (budget for this incident {change_budget}: "
          f"the instance + keys + the launcher + its managed policies (at most 10) + 2 EBS-default look-ups when EC2 picked the key, "
          f"x {CollectWindow().change_max_pages} pages each: {'ok' if changes <= change_budget else 'OVER'})")
    return 0 if calls <= CALL_BUDGET and changes <= change_budget and not org_over else 1


if __name__ == "__main__":
    sys.exit(main())
