"""A postmortem from a scan: find the failed launches (`kit scan`: Regions and accounts, or a CloudTrail
source), investigate each (`kit batch`, one kernel per incident, bounded by `jobs`), then the postmortem
over that batch folder. The postmortem notebook calls `scan_and_batch` when it is given no `batch_dir`;
`kit postmortem --region R ... --out DIR` does the same from the command line (`run`).

Layout of `out_dir`: `scan/` (one parameter file per failed launch, `scan-summary.json`), then the batch's
own files (index.html, summary.json, one folder per incident), then `postmortem.html`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kit.batch.command import MAX_JOBS, run_batch, run_scan
from kit.batch.scan import ScanRequest
from kit.errors import BadInput, KitError

SCAN_FOLDER = "scan"
DEFAULT_JOBS = 2
# the same fields as the notebook's parameters and as `kit postmortem`'s options (BadInput names the one given)
NOTEBOOK_NAMES = {"--region": "regions", "--account": "accounts", "--since": "since", "--until": "until",
                  "--cloudtrail-source": "cloudtrail_source", "--role-name": "role_name", "--profile": "profile",
                  "--org-role-arn": "org_role_arn", "--out": "out_dir", "--jobs": "jobs", "DIR": "batch_dir"}
CLI_NAMES = {name: name for name in NOTEBOOK_NAMES}


@dataclass(frozen=True)
class ScanBatch:
    """What to scan and where the scan, the batch and the postmortem go (checked by `from_values`)."""

    request: ScanRequest
    args: argparse.Namespace  # kit scan's arguments, as checked
    out_dir: Path
    jobs: int
    names: dict[str, str]

    @classmethod
    def from_values(cls, *, regions: object = (), accounts: object = (), since: object = "", until: object = "",
                    cloudtrail_source: object = "", out_dir: object = "", role_name: object = "",
                    profile: object = "", jobs: object = DEFAULT_JOBS, org_role_arn: object = "",
                    names: dict[str, str] | None = None) -> ScanBatch:
        """Check every value before anything runs; BadInput names the field as the caller calls it (the
        notebook's parameter names by default, `kit postmortem`'s options with names=CLI_NAMES)."""
        names = names or NOTEBOOK_NAMES
        region_list = _strings(regions, names["--region"], "Region codes like eu-west-1")
        account_list = _strings(accounts, names["--account"], "12-digit AWS account ids")
        texts = {}
        for option, value in (("--since", since), ("--until", until), ("--cloudtrail-source", cloudtrail_source),
                              ("--role-name", role_name), ("--profile", profile), ("--out", out_dir),
                              ("--org-role-arn", org_role_arn)):
            if value is None:
                value = ""
            if not isinstance(value, (str, Path)):
                raise BadInput(names[option], "a string", value)
            texts[option] = str(value).strip()
        if not region_list and not texts["--cloudtrail-source"]:
            raise BadInput(names["DIR"], f"a batch folder, or {names['--region']} (or {names['--cloudtrail-source']}) "
                           "to scan for failed launches", None)
        if not texts["--out"]:
            raise BadInput(names["--out"], "a folder for the scan, the batch and the postmortem", None)
        out = Path(texts["--out"]).expanduser()
        if out.exists() and not out.is_dir():
            raise BadInput(names["--out"], "a folder (or a path where one can be created)", str(out))
        if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
            raise BadInput(names["--jobs"], f"a whole number from 1 to {MAX_JOBS}", jobs)
        source = texts["--cloudtrail-source"] or None
        try:
            request = ScanRequest.from_args(regions=region_list, accounts=account_list,
                                            role_name=texts["--role-name"] or None, since=texts["--since"] or None,
                                            profile=texts["--profile"] or None, until=texts["--until"] or None,
                                            cloudtrail_source=source, org_role_arn=texts["--org-role-arn"] or None)
        except BadInput as err:
            raise BadInput(names.get(err.field, err.field), err.expected, err.got) from None
        args = argparse.Namespace(regions=region_list or None, accounts=account_list or None,
                                  role_name=texts["--role-name"] or None, since=texts["--since"] or None,
                                  until=texts["--until"] or None, profile=texts["--profile"] or None,
                                  cloudtrail_source=source, org_role_arn=texts["--org-role-arn"] or None,
                                  out=str(out / SCAN_FOLDER))
        return cls(request, args, out, jobs, names)

    def run(self) -> Path:
        """The scan, then the batch over what it found; returns the batch folder (`out_dir`)."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            scanned = run_scan(self.args)
        except BadInput as err:  # an Athena source's own checks (kit.batch.scan_athena) name kit scan's options
            raise BadInput(self.names.get(err.field, err.field), err.expected, err.got) from None
        scan_dir = Path(self.args.out)
        if scanned != 0:
            raise KitError(f"the scan read no account/Region (see {scan_dir / 'scan-summary.json'}); no batch ran")
        params = sorted(str(p) for p in scan_dir.glob("*.yaml"))
        run_batch(argparse.Namespace(params=params, out=str(self.out_dir), jobs=self.jobs, no_shared_evidence=False,
                                     org_role_arn=None))  # the scan wrote org_role_arn into each file  # exit 2 with no failure found: an empty batch
        return self.out_dir


def scan_and_batch(*, regions: Sequence[str] = (), accounts: Sequence[str] = (), since: str = "",
                   until: str = "", cloudtrail_source: str = "", out_dir: str = "", role_name: str = "",
                   profile: str = "", jobs: int = DEFAULT_JOBS, org_role_arn: str = "") -> Path:
    """The postmortem notebook's scan: check the parameters (BadInput names them), scan, batch; the folder."""
    return ScanBatch.from_values(regions=regions, accounts=accounts, since=since, until=until,
                                 cloudtrail_source=cloudtrail_source, out_dir=out_dir, role_name=role_name,
                                 profile=profile, jobs=jobs, org_role_arn=org_role_arn).run()


def run(args: argparse.Namespace) -> int:
    """`kit postmortem DIR [--out FILE]`, or `kit postmortem --region R ... [--since ISO] --out DIR`."""
    from kit.postmortem.run import run_postmortem

    scanning = any(getattr(args, name, None) for name in ("regions", "accounts", "cloudtrail_source", "since",
                                                          "until", "role_name"))
    if args.batch_dir and scanning:
        raise BadInput("DIR", "either a batch folder or scan options (--region, --account, --since, --until, "
                       "--cloudtrail-source), not both", args.batch_dir)
    if args.batch_dir:
        page = run_postmortem(args.batch_dir, args.out)
    else:
        plan = ScanBatch.from_values(regions=args.regions or (), accounts=args.accounts or (), since=args.since,
                                     until=args.until, cloudtrail_source=args.cloudtrail_source, out_dir=args.out,
                                     role_name=args.role_name, profile=args.profile, jobs=args.jobs,
                                     org_role_arn=args.org_role_arn or "",
                                     names=CLI_NAMES)
        page = run_postmortem(plan.run())
    print(f"postmortem: {page}")
    return 0


def _strings(value: object, name: str, expected: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise BadInput(name, f"a list of {expected}", value)
    return [v.strip() for v in value if v.strip()]
