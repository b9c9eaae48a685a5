"""`kit collect`: read-only collection of one instance's evidence into an evidence bundle."""

from __future__ import annotations

import argparse
import sys

from kit.collect.bundle import write_bundle
from kit.collect.clients import CallRecorder
from kit.collect.live import collect_live
from kit.collect.options import collect_options, parameters_from_args
from kit.evidence import instance_unreadable


def run(args: argparse.Namespace) -> int:
    """Collect live (profile / role from the arguments), write the bundle, print what was collected."""
    options = collect_options(parameters_from_args(args))
    print(f"kit collect: reading {options.instance_id} in {options.region} (read-only) ...", file=sys.stderr,
          flush=True)
    recorder = CallRecorder()  # the AssumeRole of --role-arn is a call made too
    session = options.session(recorder=recorder)
    org_session = options.org_session(recorder=recorder)  # --org-role-arn: its AssumeRole is recorded too
    evidence = collect_live(options.instance_id, options.region, session=session, window=options.window,
                            cloudtrail_source=options.cloudtrail_source, recorder=recorder, org_session=org_session)
    folder = write_bundle(evidence, args.out)
    print(f"bundle {folder}: {len(evidence.documents)} files, {len(evidence.calls)} AWS calls, "
          f"{len(evidence.gaps)} gaps")
    for gap in evidence.gaps:
        print(f"gap {gap.call} {gap.error}: {gap.impact}", file=sys.stderr)
        if gap.next_step:
            print(f"    next step: {gap.next_step}", file=sys.stderr)
    unreadable = instance_unreadable(gap.to_dict() for gap in evidence.gaps)
    if unreadable:  # as kit batch and kit investigate count it: nothing was collected about the instance
        print(f"kit collect: error: the instance could not be read: {unreadable}", file=sys.stderr)
        return 1
    return 0
