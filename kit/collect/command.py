"""`kit collect`: read-only collection of one instance's evidence into an evidence bundle."""

from __future__ import annotations

import argparse
import sys

from kit.collect.bundle import write_bundle
from kit.collect.clients import CallRecorder, make_session
from kit.collect.cloudtrail_window import CollectWindow
from kit.collect.live import collect_live
from kit.evidence import instance_unreadable


def run(args: argparse.Namespace) -> int:
    """Collect live (profile / role from the arguments), write the bundle, print what was collected."""
    window = CollectWindow.from_args(getattr(args, "window_before", None), getattr(args, "window_after", None))
    recorder = CallRecorder()  # the AssumeRole of --role-arn is a call made too
    session = make_session(profile=args.profile, role_arn=args.role_arn, region=args.region, recorder=recorder)
    evidence = collect_live(args.instance_id, args.region, session=session, window=window,
                            cloudtrail_source=getattr(args, "cloudtrail_source", None), recorder=recorder)
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
