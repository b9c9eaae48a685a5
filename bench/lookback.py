"""Bench: the change look-back (contracts.md 3a) over an organisation trail's day, naive and the kit's way.

    .venv/bin/python bench/lookback.py [--cache DIR] [--records N] [--files N]

Uses bench/archive.py's generated archive (generated once into --cache if absent; 1,000,000 records in ~500
files, 4 accounts, 2 Regions). The look-back filter is the one an investigation of the archive's first seeded
failure builds (kit.collect.change_filter): its instance, its launcher's role name, the EBS default events, and
the Organizations ids of a management account. Runs, side by side in this process:
  naive   json.load of every log file of the filter's accounts and Regions, then the same record filter
  kit     kit.collect.cloudtrail_logs.collect_archive_changes (files chosen by name, byte test, anchored parse)
and checks both keep the same events (ids). Prints the files and bytes each read, the wall times, and last
`lookback-speedup: <naive/kit>`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    import archive  # bench/archive.py: the generator
    import boto3

    from kit.collect.change_filter import change_filter, keep_change
    from kit.collect.change_lookups import change_lookups
    from kit.collect.clients import ReadOnlyClients
    from kit.collect.cloudtrail_logs import CHANGES_DOCUMENT, collect_archive_changes, selected, LogSelection
    from kit.collect.cloudtrail_window import TimeRange
    from kit.collect.fetcher import Fetcher

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--cache", help="archive folder (generated once by bench/archive.py, then reused)")
    args = parser.parse_args()
    folder = Path(args.cache or f"/tmp/kit-bench-archive-{args.records}-{args.files}")
    truth_file = folder / "truth.json"
    truth = json.loads(truth_file.read_text()) if truth_file.exists() else archive.generate(folder, args.records,
                                                                                            args.files)
    first = truth["failures"][0]
    start, end = archive.DAY - timedelta(days=1), archive.DAY + timedelta(days=1)
    lookups = change_lookups(first["region"], [], "role", "ci-deployer", [], ebs_default=True,
                             instance_id=first["instance_id"])
    change = change_filter(lookups, account_id=first["account_id"], start=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           end=end.strftime("%Y-%m-%dT%H:%M:%SZ"), scp_ids=("p-bench0001",),
                           organization_targets=(first["account_id"], "ou-bench-00000001"),
                           management_account=archive.ACCOUNTS[-1])
    trail = folder / "trail"
    selection = LogSelection(TimeRange(start, end), None, frozenset(change.regions()), pairs=change.pairs(),
                             max_days=4)
    chosen = [p for p in archive._log_files(folder) if selected(p.relative_to(trail).as_posix(), selection)]

    began = time.perf_counter()
    naive_ids = set()
    for path in chosen:
        for record in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            if keep_change(change, record):
                naive_ids.add(record["eventID"])
    naive = time.perf_counter() - began

    fetch = Fetcher(ReadOnlyClients(boto3.Session(aws_access_key_id="none", aws_secret_access_key="none",
                                                  region_name="us-east-1"), "us-east-1"))
    began = time.perf_counter()
    collect_archive_changes(fetch, str(trail), change)
    kit = time.perf_counter() - began
    document = fetch.documents[CHANGES_DOCUMENT]
    kit_ids = {r["eventID"] for r in document["Records"]}
    size = sum(p.stat().st_size for p in chosen)
    print(f"archive: {folder}: {truth['records']} records in {truth['files']} files; look-back chose "
          f"{len(chosen)} files ({size / 2**20:.1f} MiB) of {len(change.pairs())} account/Region pairs")
    print(f"naive: parsed {len(chosen)} files, kept {len(naive_ids)} events in {naive:.2f} s")
    print(f"kit:   read {document['FilesRead']} files, kept {len(kit_ids)} events from "
          f"{len(document['FilesWithChanges'])} files in {kit:.2f} s")
    if naive_ids != kit_ids:
        print(f"MISMATCH: naive only {len(naive_ids - kit_ids)}, kit only {len(kit_ids - naive_ids)}")
        return 1
    print(f"lookback-speedup: {naive / kit:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
