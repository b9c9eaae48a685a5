"""`kit simulate` and `kit scenarios` (contracts.md section 1)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from kit.errors import BadInput
from kit.simulate.catalogue import load_catalogue, scenario_named

MAX_PORT = 65535


def run_simulate(args: argparse.Namespace) -> int:
    """Run the simulated account on 127.0.0.1 until interrupted; print the endpoint and the seeded instances."""
    from kit.simulate.account import SimulatedAccount

    port = args.port
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= MAX_PORT:
        raise BadInput("--port", f"a port from 1 to {MAX_PORT}, or 0 for any free port", port)
    names = list(args.scenarios or [s.name for s in load_catalogue()])
    for name in names:
        scenario_named(name)                      # BadInput (exit 2) listing the valid names
    stop = threading.Event()
    previous = _on_terminate(stop)
    try:
        with SimulatedAccount(scenarios=names, port=args.port, throttle=args.throttle) as sim:
            print(f"AWS_ENDPOINT_URL={sim.endpoint_url}", flush=True)  # stdout: contracts.md section 1
            for seeded in sim.seeded:
                print(f"scenario {seeded.name} {seeded.instance_id} {seeded.region}", flush=True)
            _print_exports(sim.environ(sim.seeded[0].region if sim.seeded else "eu-west-1"))
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _print_exports(environ: dict[str, str]) -> None:
    """On stderr, for a person: the shell lines that point the notebook and the kit at the simulated account
    (endpoint, fake credentials, Region); the endpoint alone ends in NoCredentialsError."""
    print("# The simulated AWS account is serving. Paste these lines into the shell that runs `jupyter lab` or\n"
          "# the kit (fake credentials: the simulated account accepts any; never put real ones here):",
          file=sys.stderr, flush=True)
    for name, value in environ.items():
        print(f"export {name}={value}", file=sys.stderr, flush=True)


def run_scenarios(args: argparse.Namespace) -> int:
    """Print the catalogue: name, expected cause, one-line story."""
    catalogue = load_catalogue()
    width = max(len(s.name) for s in catalogue)
    cause_width = max(len(s.cause) for s in catalogue)
    for scenario in catalogue:
        print(f"{scenario.name:<{width}}  {scenario.cause:<{cause_width}}  {scenario.one_line}")
    sys.stdout.flush()
    return 0


def _on_terminate(stop: threading.Event) -> Any:
    """Let SIGTERM end the run cleanly (only possible from the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
