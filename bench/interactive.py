"""Bench: how long an analyst waits after changing a control in the investigation notebook, in a live kernel.

    .venv/bin/python bench/interactive.py [--instances 6] [--rounds 3]

Starts the simulated account (several incidents in one Region), a python3 kernel (jupyter_client) pointed at
it, and runs the investigation notebook's cells in that kernel as JupyterLab would (interactive, every live
section on screen). Then changes controls the way the widgets' callbacks do, and times each change from the
request to the kernel going idle, i.e. after every re-rendered section has been sent (iopub), per kind:

- pick, new instance: an instance not picked yet in this kernel (its evidence is read, or was read in the
  background since the table listed it: the notebook investigates the newest listed instances ahead);
- pick, seen before: back to an instance already investigated (its evidence is reused);
- window, new: a window preset not used yet for this instance (only CloudTrail is read again, and only the part
  of the range not held: kit.collect.memo); window, seen: back to one already used;
- what-if: Re-evaluate in the what-if editor (the proposed fix; nothing is collected).

Next to each, the analysis alone (a fresh collect + frames + diagnose for the same inputs, nothing reused,
timed in the kernel, nothing rendered), the ratio, and the load average (the machine may be shared). Goal: the
median of every control change at most 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client import KernelManager

from kit.simulate import SimulatedAccount

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "kit" / "notebooks" / "investigate_instance.ipynb"
SCENARIOS = ("seed", "key-disabled", "key-pending-deletion", "scheduler-role", "scp-deny", "key-policy-no-delegation",
             "permissions-boundary", "insufficient-capacity")
GOAL_S = 1.0
TIMEOUT_S = 300.0


class Kernel:
    """A python3 kernel and a blocking client; `run(code)` returns the wall time to idle and the text output."""

    def __init__(self, env: dict[str, str]) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env, extra_arguments=["--HistoryManager.hist_file=:memory:"],
                                  stderr=subprocess.DEVNULL)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=TIMEOUT_S)

    def run(self, code: str) -> tuple[float, str]:
        start = time.perf_counter()
        msg_id = self.client.execute(code, store_history=False)
        text: list[str] = []
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=TIMEOUT_S)
            except queue.Empty:
                raise TimeoutError(f"no answer within {TIMEOUT_S} s to {code!r}") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                text.append(content["text"])
            elif kind == "error":
                raise RuntimeError(f"{code!r} failed: {content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                return time.perf_counter() - start, "".join(text)

    def value(self, expression: str) -> Any:
        """The JSON value of `expression` in the kernel."""
        _wall, out = self.run(f"import json as _j; print(_j.dumps({expression}))")
        return json.loads(out.strip().splitlines()[-1])

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


ANALYSIS_ALONE = """
import time as _t
_p = investigation.params
_s = _t.perf_counter(); investigation._collect_and_diagnose(_p); print(_t.perf_counter() - _s)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=6, help="failed instances to pick between (default 6)")
    parser.add_argument("--rounds", type=int, default=3, help="what-if and seen-before repetitions (default 3)")
    args = parser.parse_args(argv)
    names = [SCENARIOS[i % len(SCENARIOS)] for i in range(max(2, args.instances))]

    with SimulatedAccount(scenarios=[]) as sim:
        seeded = [sim.seed(name, region="eu-west-1") for name in names]
        # What `kit simulate`'s user has: the endpoint (the notebook supplies the rest for the simulated account).
        env = {**SimulatedAccount.process_environ_without_aws(), "AWS_ENDPOINT_URL": sim.endpoint_url,
               "AWS_EC2_METADATA_DISABLED": "true"}
        kernel = Kernel(env)
        try:
            figures = measure(kernel, [s.instance_id for s in seeded], args.rounds)
        finally:
            kernel.stop()
    print(f"{len(seeded)} failed instances in eu-west-1 ({', '.join(sorted(set(names)))}); {os.cpu_count()} cores")
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'control change':<26} {'n':>3} {'median s':>9} {'worst s':>8} {'analysis alone s':>17} {'ratio':>6}")
    all_changes: list[float] = []
    for label, (changes, alone) in figures.items():
        all_changes += changes
        median, base = statistics.median(changes), statistics.median(alone) if alone else float("nan")
        print(f"{label:<26} {len(changes):>3} {median:>9.3f} {max(changes):>8.3f} {base:>17.3f} "
              f"{median / base if alone else float('nan'):>6.2f}")
    for label, (changes, _alone) in figures.items():
        print(f"  {label}: each change in order, s: {' '.join(f'{c:.3f}' for c in changes)}")
    first = figures["pick, new instance"][0] + figures["window, new"][0]
    print(f"first-time changes (new instance or window): median {statistics.median(first):.3f} s, "
          f"worst {max(first):.3f} s")
    overall = statistics.median(all_changes)
    print(f"interactive-median: {overall:.3f} s (goal <= {GOAL_S:.1f} s: {'met' if overall <= GOAL_S else 'NOT met'})")
    return 0


def measure(kernel: Kernel, instances: list[str], rounds: int) -> dict[str, tuple[list[float], list[float]]]:
    """Run the notebook in the kernel, then time each kind of control change."""
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = cell.source
        if "parameters" in cell.metadata.get("tags", []):
            source += f"\ninstance_id = {instances[0]!r}\n"
        kernel.run(source)
    assert kernel.value("investigation.findings is not None"), "the notebook did not investigate"

    def alone() -> float:
        _wall, out = kernel.run(ANALYSIS_ALONE)
        return float(out.strip().splitlines()[-1])

    figures: dict[str, tuple[list[float], list[float]]] = {
        "pick, new instance": ([], []), "pick, seen before": ([], []), "window, new": ([], []),
        "window, seen before": ([], []), "what-if (proposed fix)": ([], [])}
    for instance in instances[1:]:
        wall, _ = kernel.run(f"investigation.controls.pick({instance!r})")
        figures["pick, new instance"][0].append(wall)
        figures["pick, new instance"][1].append(alone())
    for round_ in range(rounds):
        for instance in (instances[0], instances[1]) if round_ % 2 == 0 else (instances[1], instances[0]):
            wall, _ = kernel.run(f"investigation.controls.pick({instance!r})")
            figures["pick, seen before"][0].append(wall)
            figures["pick, seen before"][1].append(alone())
    for preset in range(4):
        wall, _ = kernel.run(f"investigation.controls.presets[{preset}].click()")
        figures["window, new"][0].append(wall)
        figures["window, new"][1].append(alone())
    for preset in (0, 1, 2, 3)[:max(2, rounds)]:
        wall, _ = kernel.run(f"investigation.controls.presets[{preset}].click()")
        figures["window, seen before"][0].append(wall)
        figures["window, seen before"][1].append(alone())
    kernel.run(f"investigation.controls.pick({instances[0]!r})")
    for _ in range(rounds):
        wall, _ = kernel.run("investigation.what_if.button.click()")
        figures["what-if (proposed fix)"][0].append(wall)
        figures["what-if (proposed fix)"][1].append(alone())
    assert kernel.value("investigation.what_if.last is not None and investigation.what_if.last.allowed"), \
        "the proposed fix did not re-evaluate to an allow"
    return figures


if __name__ == "__main__":
    sys.exit(main())
