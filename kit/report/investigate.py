"""`kit investigate`: one headless investigation into a report folder (contracts.md section 1)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Callable

from kit.errors import BadInput
from kit.params import validate
from kit.report.run import run_investigation


def run(args: argparse.Namespace, batch: Callable[[list[str], Path], int] | None = None) -> int:
    """Validate the options, run the notebook headless, print the verdict line and where the report is.

    Exit code: 0 whatever the verdict; 2 bad input (raised as BadInput, or a notebook that stopped on it);
    1 when the notebook failed otherwise (the report is still written, with the failure in it).
    With --asg / --fleet-id / --error-text, several failed instances are run by `batch(parameter files, out)`
    (kit.batch's, given by kit.batch.entry; kit.report may not import kit.batch).
    """
    values: dict[str, Any] = {
        "instance_id": args.instance_id or "", "region": args.region, "source": args.source,
        "asg": getattr(args, "asg", "") or "", "fleet_id": getattr(args, "fleet_id", "") or "",
        "error_text": getattr(args, "error_text", "") or "",
        "profile": args.profile or "", "role_arn": args.role_arn or "", "redact": bool(args.redact),
        "org_role_arn": getattr(args, "org_role_arn", None) or "",
        "cloudtrail_source": args.cloudtrail_source or "", "interactive": False,
    }
    if args.window_before is not None:
        values["window_before_minutes"] = args.window_before
    if args.window_after is not None:
        values["window_after_minutes"] = args.window_after
    params = validate(values, require_target=True)
    _check_out(Path(args.out))
    if params.entry_point and not params.instance_id:
        from kit.report.targets import run_entry_point

        return run_entry_point(params, Path(args.out), batch)
    result = run_investigation(params, args.out)
    return result.print_outcome("kit investigate")


def _check_out(out: Path) -> None:
    """Create the report folder now, or raise BadInput naming --out (as `kit collect` does)."""
    expected = "a folder (or a path where one can be created) that can be written"
    if out.exists() and not out.is_dir():
        raise BadInput("--out", expected + " (it is a file)", str(out))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput("--out", f"{expected} ({exc.strerror or exc})", str(out)) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise BadInput("--out", expected + " (permission denied)", str(out))
