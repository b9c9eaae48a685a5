"""Entry points other than an instance id (--asg, --fleet-id, --error-text): resolve them to the instances that
failed to launch (kit.collect.targets, with kit.diagnose's failed-launch rule) and investigate them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import yaml

from kit.errors import BadInput
from kit.params import DEFAULTS, InvestigationParameters
from kit.report.run import run_investigation


def run_entry_point(params: InvestigationParameters, out: Path,
                    batch: Callable[[list[str], Path], int] | None) -> int:
    """--asg / --fleet-id / --error-text: the failed instances behind it (OUT/resolution.json says how they were
    found); one is investigated into OUT, several become a batch: a parameter file each under OUT/params/, run
    by `batch(files, OUT)` (kit batch), or only written when no batch runner is given."""
    from kit.collect.options import collect_options
    from kit.collect.targets import resolve_parameters

    if params.source != "live":
        raise BadInput("source", "live with --asg, --fleet-id or --error-text (they are resolved against AWS)",
                       params.source)
    session = collect_options(params).session(session_name="kit-resolve")
    runs, found = resolve_parameters(params, failed_launch, session=session)
    name, value = params.entry_point or ("", "")
    if found is not None:
        (out / "resolution.json").write_text(json.dumps(found.to_dict(), indent=2) + "\n", encoding="utf-8")
        for note in found.notes:
            print(f"kit investigate: note: {note}", file=sys.stderr)
    if not runs and found is not None and found.fleet_verdict:
        print(f"kit investigate: {found.fleet_verdict}", file=sys.stderr)  # the fleet's error set is the answer
        return 0
    if not runs:
        print(f"kit investigate: no instance that failed to launch found for {name} {value!r} in {params.region}",
              file=sys.stderr)
        return 1
    print(f"kit investigate: {name} resolved to {len(runs)} failed instance(s): "
          + ", ".join(r.instance_id for r in runs), file=sys.stderr)
    if len(runs) == 1:
        return run_investigation(runs[0], out).print_outcome("kit investigate")
    folder = out / "params"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for run_params in runs:
        path = folder / f"{run_params.instance_id}.yaml"
        values = {k: v for k, v in run_params.to_dict().items() if v != DEFAULTS.get(k) or k == "interactive"}
        path.write_text(yaml.safe_dump(values, sort_keys=True), encoding="utf-8")
        files.append(str(path))
    if batch is None:
        print(f"kit investigate: {len(files)} parameter files in {folder}: run `kit batch {folder}/*.yaml --out DIR`",
              file=sys.stderr)
        return 0
    return batch(files, out)


def failed_launch(instance: dict[str, Any]) -> bool:
    """A describe-instances Instance that failed to launch (kit.diagnose.state_reason's rule)."""
    from kit.diagnose.state_reason import failed_to_launch, read_instance_state

    return failed_to_launch(read_instance_state(instance))

