"""`kit investigate`, with kit batch behind it: an Auto Scaling group (or fleet, or error text) with several failed
launches becomes a batch (kit.report.investigate may not import kit.batch, so the command starts here)."""

from __future__ import annotations

import argparse
from pathlib import Path

from kit.batch.command import run_batch
from kit.report.investigate import run as run_investigate


def run(args: argparse.Namespace) -> int:
    """`kit investigate` (kit.report.investigate.run) whose several resolved instances run as `kit batch`."""
    return run_investigate(args, batch=_batch)


def _batch(files: list[str], out: Path) -> int:
    return run_batch(argparse.Namespace(params=files, out=str(out), jobs=2, no_shared_evidence=False,
                                        org_role_arn=None))
