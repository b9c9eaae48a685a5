"""The `kit` command line (docs/contracts.md section 1).

Each subcommand is declared here and implemented by a `run(args) -> int` function in the module that
owns it, imported only when that subcommand runs (no import-time work for the others).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from kit import DISTRIBUTION, version
from kit.errors import BadInput, KitError

# subcommand -> "module:function" implementing it
COMMANDS: dict[str, str] = {
    "demo": "kit.report.demo:run",
    "simulate": "kit.simulate.command:run_simulate",
    "scenarios": "kit.simulate.command:run_scenarios",
    "collect": "kit.collect.command:run",
    "investigate": "kit.batch.entry:run",
    "batch": "kit.batch.command:run_batch",
    "scan": "kit.batch.command:run_scan",
    "postmortem": "kit.batch.scan_batch:run",
    "policy": "kit.policy.command:run",
    "notebooks": "kit.report.notebooks:run",
    "athena": "kit.collect.athena_ddl:run",
}


def skip_unused_format_checker() -> None:
    """Keep jsonschema from loading its optional IRI format checker in the kit's own process.

    jsonschema imports `rfc3987_syntax` when it is installed (JupyterLab's dependencies bring it), and that
    module compiles three Earley grammars at import: about 2 s of CPU in every process that imports nbformat,
    papermill or jsonschema (`kit demo`, `kit investigate`, `kit batch`). No schema the kit validates uses the
    `iri` formats, so the kit's command-line process does without them (jsonschema then leaves `iri` unchecked).
    Kernels and JupyterLab are separate processes and are not affected.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: importing it raises ImportError


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run one subcommand, and map errors to exit codes (0, 1, 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    module_name, function_name = COMMANDS[args.command].split(":")
    skip_unused_format_checker()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        return int(handler(args) or 0)
    except BadInput as exc:
        print(f"kit {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KitError as exc:
        print(f"kit {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


ORG_ROLE_HELP = ("read-only role to assume in the organization's management account, where AWS records SCP "
                 "changes (AttachPolicy, DetachPolicy, UpdatePolicy): what changed looks there too")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="kit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"kit {version()} ({DISTRIBUTION})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="investigate a simulated incident end to end and write its report")
    demo.add_argument("--scenario", default="seed", help="scenario name (see `kit scenarios`)")
    demo.add_argument("--out", default="reports/demo", help="report folder")

    simulate = sub.add_parser("simulate", help="run the simulated AWS account on 127.0.0.1 until interrupted")
    simulate.add_argument("--scenario", action="append", dest="scenarios", metavar="NAME",
                          help="scenario to seed (repeatable; default: every scenario)")
    simulate.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    simulate.add_argument("--throttle", action="store_true",
                          help="throttle CloudTrail LookupEvents to 2 requests/s as AWS does")

    sub.add_parser("scenarios", help="list the scenario catalogue")

    collect = sub.add_parser("collect", help="read-only collection of one instance's evidence into a bundle")
    _add_target(collect)
    collect.add_argument("--profile")
    collect.add_argument("--role-arn", help="role to assume for reading")
    collect.add_argument("--org-role-arn", metavar="ARN", help=ORG_ROLE_HELP)
    collect.add_argument("--out", required=True, help="bundle folder")
    _add_window(collect)

    investigate = sub.add_parser("investigate", help="headless investigation: notebook, report.html, findings.json")
    investigate.add_argument("--instance-id", default="", help="the instance (or one of the three options below)")
    investigate.add_argument("--region", required=True)
    investigate.add_argument("--asg", default="", metavar="NAME",
                             help="an Auto Scaling group: investigate its failed launches (several: a batch)")
    investigate.add_argument("--fleet-id", default="", metavar="ID",
                             help="an EC2 Fleet (fleet-...) or Spot Fleet request (sfr-...): its failed instances")
    investigate.add_argument("--error-text", default="", metavar="TEXT",
                             help="a pasted console, Auto Scaling or Terraform error message")
    investigate.add_argument("--source", default="live", help="live | bundle:DIR | cli:DIR")
    investigate.add_argument("--profile")
    investigate.add_argument("--role-arn")
    investigate.add_argument("--org-role-arn", metavar="ARN", help=ORG_ROLE_HELP)
    investigate.add_argument("--redact", action="store_true", help="mask account ids, ARNs' accounts, IPs, keys")
    investigate.add_argument("--out", required=True, help="report folder")
    _add_window(investigate)

    batch = sub.add_parser("batch", help="one investigation per parameter file, plus index.html (grouped by change, "
                           "then cause), summary.json, incidents.csv, timeline.jsonl")
    batch.add_argument("params", nargs="+", metavar="PARAMS.yaml")
    batch.add_argument("--out", required=True)
    batch.add_argument("--jobs", type=int, default=2, help="investigations at once (default 2)")
    batch.add_argument("--org-role-arn", metavar="ARN",
                       help=ORG_ROLE_HELP + " (for every live incident; overrides the parameter files')")
    batch.add_argument("--no-shared-evidence", action="store_true",
                       help="let each notebook collect its own evidence instead of sharing calls per account")

    postmortem = sub.add_parser("postmortem", help="the postmortem of a kit batch folder: DIR/postmortem.html "
                                "(groups by change and cause, blast radius, failures over time, impact/trigger/fix)")
    postmortem.add_argument("batch_dir", metavar="DIR", nargs="?", default="",
                            help="a folder written by kit batch (or scan first: --region/--cloudtrail-source)")
    postmortem.add_argument("--out", help="with DIR: where to write postmortem.html (default: DIR/postmortem.html); "
                            "with a scan: the folder for the scan, the batch and postmortem.html")
    postmortem.add_argument("--region", action="append", dest="regions", metavar="REGION",
                            help="scan this Region for failed launches first (repeatable)")
    postmortem.add_argument("--account", action="append", dest="accounts", metavar="ACCOUNT_ID",
                            help="scan this account (with --role-name, or in the trail)")
    postmortem.add_argument("--role-name", help="role to assume in each --account")
    postmortem.add_argument("--since", help="ISO time: failures after this")
    postmortem.add_argument("--until", help="ISO time: failures before this")
    postmortem.add_argument("--cloudtrail-source", metavar="DIR|s3://BUCKET/PREFIX|athena:DB.TABLE",
                            help="scan the trail instead (as kit scan --cloudtrail-source)")
    postmortem.add_argument("--profile", help="AWS profile to read with")
    postmortem.add_argument("--org-role-arn", metavar="ARN", help=ORG_ROLE_HELP)
    postmortem.add_argument("--jobs", type=int, default=2, help="investigations at once (default 2)")

    scan = sub.add_parser("scan", help="find instances that failed to launch; write one parameter file each")
    scan.add_argument("--region", action="append", dest="regions", metavar="REGION",
                      help="Region to scan (repeatable; required unless --cloudtrail-source, where it narrows)")
    scan.add_argument("--cloudtrail-source", metavar="DIR|s3://BUCKET/PREFIX|athena:DB.TABLE",
                      help="find the failures in the trail instead (every account and Region): its log files in a "
                           "folder or S3 (one pass), or an Athena table (one query)")
    scan.add_argument("--role-name", help="role to assume in each account")
    scan.add_argument("--account", action="append", dest="accounts", metavar="ACCOUNT_ID")
    scan.add_argument("--since", help="ISO time: only failures after this")
    scan.add_argument("--until", help="ISO time: only failures before this")
    scan.add_argument("--profile", help="AWS profile to read (or to assume the roles) with")
    scan.add_argument("--org-role-arn", metavar="ARN", help=ORG_ROLE_HELP + " (written into every parameter file)")
    scan.add_argument("--out", required=True, help="folder for the parameter files")

    athena = sub.add_parser("athena", help="Amazon Athena helpers for CloudTrail")
    athena_sub = athena.add_subparsers(dest="athena_command", metavar="SUBCOMMAND", required=True)
    ddl = athena_sub.add_parser("ddl", help="print the CloudTrail table's CREATE statement (partition projection)")
    ddl.add_argument("--bucket", required=True, help="the trail's S3 bucket")
    ddl.add_argument("--prefix", default="", help="the trail's S3 key prefix, if any")
    ddl.add_argument("--org-id", default="", help="organisation trail: the organization id (o-xxxx)")
    ddl.add_argument("--accounts", nargs="+", default=[], metavar="ACCOUNT_ID",
                     help="accounts to project (default: injected, each query names its accounts)")
    ddl.add_argument("--regions", nargs="+", default=[], metavar="REGION",
                     help="Regions to project (default: every Region of the standard partition)")
    ddl.add_argument("--database", default="default")
    ddl.add_argument("--table", default="cloudtrail_logs")
    ddl.add_argument("--range-start", default="2020-01-01", help="first projected day (YYYY-MM-DD)")

    policy = sub.add_parser("policy", help="the offline IAM/KMS authorization evaluator")
    policy_sub = policy.add_subparsers(dest="policy_command", metavar="SUBCOMMAND", required=True)
    check = policy_sub.add_parser("check", help="evaluate one authorization request (docs/contracts.md section 4)")
    check.add_argument("case", metavar="CASE.json")

    notebooks = sub.add_parser("notebooks", help="list the notebooks the kit ships, or copy them to open in JupyterLab")
    notebooks.add_argument("--copy", metavar="DIR", help="copy the notebooks into this folder")
    notebooks.add_argument("--force", action="store_true", help="overwrite changed copies already in DIR")
    return parser


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instance-id", required=True)
    parser.add_argument("--region", required=True)


def _add_window(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window-before", type=int, default=None, metavar="MINUTES",
                        help="widen the CloudTrail window before the incident")
    parser.add_argument("--window-after", type=int, default=None, metavar="MINUTES",
                        help="widen the CloudTrail window after the incident")
    parser.add_argument("--cloudtrail-source", default=None,
                        help="lookup (default), a local log folder, s3://bucket/prefix, or "
                             "athena:DATABASE.TABLE[?workgroup=W&output=s3://bucket/prefix/]")
