"""`kit batch` and `kit scan` (contracts.md section 1): argument checks, then the work, then what to print."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO

from kit.errors import BadInput

MAX_JOBS = 64
LOCK_FILE = ".kit-batch.lock"  # held (flock) by the batch writing into --out


def run_batch(args: argparse.Namespace, *, notebook: Path | None = None) -> int:
    """One investigation per parameter file, then DIR/index.html, DIR/summary.json, DIR/incidents.csv and
    DIR/timeline.jsonl (`notebook`: another
    notebook to run than the shipped one, for tests and callers from Python; the CLI has no such option).

    Exit 0 when the batch did its job (whatever the verdicts, whichever incidents failed), 2 when no
    parameter file was usable.
    """
    jobs = args.jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
        raise BadInput("--jobs", f"a whole number from 1 to {MAX_JOBS}", jobs)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise BadInput("--out", "a folder (or a path where one can be created)", str(out))
    out.mkdir(parents=True, exist_ok=True)
    lock = lock_out(out)
    try:
        return _run_locked(args, out, jobs, notebook)
    finally:
        lock.close()


def lock_out(out: Path) -> IO[str]:
    """Hold `out/.kit-batch.lock` for this batch (released when the returned file closes or the process
    ends); a second batch into the same folder is refused at once, naming --out."""
    import fcntl

    handle = (out / LOCK_FILE).open("a", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise BadInput("--out", "a folder no other running kit batch is writing to", str(out)) from None
    return handle


def _run_locked(args: argparse.Namespace, out: Path, jobs: int, notebook: Path | None) -> int:
    from kit.batch.incidents import load_incidents
    from kit.batch.schedule import BatchInterrupted, BatchOptions, run_incidents
    from kit.batch.shared import SharedEvidence

    incidents = load_incidents(args.params, out, org_role_arn=args.org_role_arn or "")
    options = BatchOptions(jobs=jobs, notebook=notebook)
    share = not args.no_shared_evidence
    interrupted = False
    with SharedEvidence(enabled=share) as shared:
        try:
            outcomes = run_incidents(incidents, options, prepare=shared.prepare)
        except BatchInterrupted as stopped:  # Ctrl-C: the index of what finished, then exit 130
            outcomes, interrupted = stopped.outcomes, True
        extra = {"shared_evidence": shared.stats()}
    # imported once the incidents ran (pandas and the views take a while: not before the kernels start)
    from kit.batch.index import write_index
    from kit.batch.summary import build_summary, write_summary
    from kit.postmortem.batch import Batch
    from kit.postmortem.exports import write_exports

    summary = build_summary(outcomes, out, extra=extra)
    write_summary(summary, out)
    index = write_index(summary, out)
    findings = {o.incident.name: o.findings for o in outcomes if o.findings}
    exports = write_exports(Batch(folder=out, summary=summary, findings=findings))
    for outcome in outcomes:
        if outcome.status == "failed":
            print(f"kit batch: {outcome.incident.params_file}: failed: {outcome.error}", file=sys.stderr)
    counts = summary["counts"]
    print(f"{counts['incidents']} incidents: {counts['ok']} ok, {counts['failed']} failed")
    print(f"index: {index}")
    print(f"summary: {out / 'summary.json'}")
    print(f"exports: {', '.join(str(path) for path in exports)}")
    print(f"postmortem: kit postmortem {out}")
    if interrupted:
        print(f"kit batch: interrupted: {counts.get('interrupted', 0)} incidents did not finish", file=sys.stderr)
        return 130
    if not any(incident.usable for incident in incidents):
        print("kit batch: error: no parameter file was usable", file=sys.stderr)
        return 2
    return 0


def run_scan(args: argparse.Namespace) -> int:
    """Find instances that failed to launch; write one parameter file each and scan-summary.json.

    Exit 0 when at least one account/Region was read (the others are listed as skipped), 1 when none was.
    """
    from kit.batch.scan import ScanRequest, scan, write_scan
    from kit.params import is_athena_source

    if is_athena_source(args.cloudtrail_source):
        from kit.batch.scan_athena import run_athena_scan

        return run_athena_scan(args)
    request = ScanRequest.from_args(regions=args.regions, accounts=args.accounts, role_name=args.role_name,
                                    since=args.since, profile=args.profile, until=args.until,
                                    cloudtrail_source=args.cloudtrail_source,
                                    org_role_arn=args.org_role_arn)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise BadInput("--out", "a folder (or a path where one can be created)", str(out))
    if request.cloudtrail_source:
        from kit.batch.trail_scan import scan_trail

        result = scan_trail(request)
        for gap in result.gaps:
            print(f"kit scan: {gap['error']}: {gap['impact']}", file=sys.stderr)
    else:
        result = scan(request)
    written = write_scan(result, out)
    for target in result.targets:
        if target.error:
            print(f"kit scan: skipped account {target.account_id or '(default)'} in {target.region}: {target.error}",
                  file=sys.stderr)
    for path in written:
        print(path)
    read = sum(1 for t in result.targets if not t.error)
    print(f"{len(result.instances)} failed launches in {read} of {len(result.targets)} account/Region pairs; "
          f"summary: {out / 'scan-summary.json'}", file=sys.stderr)
    return 0 if read else 1
