"""`kit demo`: the simulated account, one incident investigated end to end, its report in reports/demo/.

The slow parts overlap: the notebook's kernel starts (and imports what the notebook needs) in its own
process while this one starts the simulated account, seeds the one scenario and imports papermill
(nbconvert only if the report has to show a failure: the answer-first report needs no exporter). The
imports run in this thread, one after the other: imported from two threads at once, packages with import
cycles (requests, used by both moto and papermill) can fail half-initialised, and the GIL leaves nothing
to gain. The
kernel is then pointed at the simulated account (its environment, in the kernel's memory only) and runs the
notebook; the report is exported as `kit investigate` does.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from kit.params import validate
from kit.report.run import RunResult, run_investigation, start_quiet_kernel

# What the notebook's cells import, loaded in the kernel while the simulated account starts.
KERNEL_WARM_UP = ("import kit.notebook.investigation, kit.collect, kit.frames, kit.diagnose, kit.views.timeline, "
                  "kit.views.html, matplotlib.pyplot")


def run(args: argparse.Namespace) -> int:
    """Start the simulated account with the scenario, investigate its instance headless, print the verdict."""
    result = demo(args.scenario or "seed", args.out)
    return result.print_outcome("kit demo")


def demo(scenario: str, out_dir: str) -> RunResult:
    """Investigate `scenario` in a freshly started simulated account; the account stops afterwards."""
    from jupyter_client import KernelManager

    from kit.simulate import SimulatedAccount
    from kit.simulate.catalogue import scenario_named

    name = scenario_named(scenario).name  # BadInput (exit 2) lists the catalogue
    km = KernelManager(kernel_name="python3")
    start_quiet_kernel(km)  # boots in its own process while the simulated account starts below
    client = km.client()
    client.start_channels()
    try:
        client.execute(KERNEL_WARM_UP, store_history=False, silent=True)  # queued until the kernel is up
        with SimulatedAccount(scenarios=[name]) as sim:
            seeded = next(s for s in sim.seeded if s.name == name)
            params = validate({"scenario": name, "instance_id": seeded.instance_id, "region": seeded.region,
                               "source": "live", "interactive": False}, require_target=True)
            import papermill  # noqa: F401 - while the kernel may still be importing

            _point_kernel_at(client, sim.environ(seeded.region))
            with environment(sim.environ()):
                return run_investigation(params, out_dir, km=km)
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def _point_kernel_at(client: Any, environ: Mapping[str, str]) -> None:
    """Set the simulated account's environment (endpoint, its fake credentials, Region) in the running kernel,
    as a kernel started with it would have; waits until the kernel has done it (and the warm-up before it)."""
    code = "import os as _os; _os.environ.update(" + repr(dict(environ)) + "); del _os"
    reply = client.execute_interactive(code, store_history=False, silent=True, timeout=300,
                                       output_hook=lambda _msg: None)
    if reply["content"].get("status") != "ok":
        raise RuntimeError(f"the kernel could not be prepared: {reply['content'].get('evalue', '')}")


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
