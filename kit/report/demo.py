"""`kit demo`: the simulated account, one incident investigated end to end, its report in reports/demo/."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from kit.params import validate
from kit.report.run import RunResult, run_investigation


def run(args: argparse.Namespace) -> int:
    """Start the simulated account with the scenario, investigate its instance headless, print the verdict."""
    result = demo(args.scenario or "seed", args.out)
    return result.print_outcome("kit demo")


def demo(scenario: str, out_dir: str) -> RunResult:
    """Investigate `scenario` in a freshly started simulated account; the account stops afterwards."""
    from kit.simulate import SimulatedAccount
    from kit.simulate.catalogue import scenario_named

    name = scenario_named(scenario).name  # BadInput (exit 2) lists the catalogue
    with SimulatedAccount(scenarios=[name]) as sim:
        seeded = next(s for s in sim.seeded if s.name == name)
        params = validate({"scenario": name, "instance_id": seeded.instance_id, "region": seeded.region,
                           "source": "live", "interactive": False}, require_target=True)
        with environment(sim.environ()):  # the notebook's kernel inherits it: it reaches the simulated account
            return run_investigation(params, out_dir)


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `values` set, restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
