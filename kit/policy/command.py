"""`kit policy check CASE.json`: evaluate one authorization request and print the decision as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kit.errors import BadInput
from kit.policy.case import load_case
from kit.policy.evaluate import evaluate


def run(args: argparse.Namespace) -> int:
    """Run the `policy` subcommand; prints one JSON object on stdout (contracts.md section 4)."""
    if args.policy_command != "check":
        raise BadInput("policy_command", "check", args.policy_command)
    path = Path(args.case)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(str(path), "a readable case file", exc.strerror) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(str(path), f"JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise BadInput(str(path), "JSON nested less deeply (it is nested too deeply to read)") from None
    try:
        request, policies = load_case(data)
        decision = evaluate(request, policies)
    except RecursionError:
        raise BadInput(str(path), "a case nested less deeply (it is nested too deeply to evaluate)") from None
    json.dump(decision.to_dict(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
