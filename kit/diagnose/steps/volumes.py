"""Step: encrypted volumes and their keys."""

from __future__ import annotations

import pandas as pd

from kit.diagnose.case import Case
from kit.diagnose.steps.check import Analysis, Check


def check(case: Case, analysis: Analysis) -> Check:
    """fail when an encrypted volume exists (its key must be checked), pass when none is encrypted."""
    provenance = {(p["volume_id"], p["snapshot_id"], p["key_arn"]): p for p in case.key_provenance}
    uses = pd.DataFrame([dict(u.__dict__, key_from=provenance.get((u.volume_id, u.snapshot_id, u.key_arn),
                                                                   {}).get("from"))
                         for u in case.key_uses],
                        columns=["key_arn", "key_ref", "volume_id", "snapshot_id", "source", "implicit_default",
                                 "key_from"])
    if not case.encryption_known:
        if not case.volumes_known:
            return Check("unknown", "no describe-volumes, AMI or launch request in the evidence: encryption unknown",
                         uses)
        return Check("unknown", "describe-volumes shows no volume of this instance (gone with a failed launch?) "
                                "and the AMI is not in the evidence", uses)
    if not case.key_uses:
        rows = case.volume_rows if len(case.volume_rows) else case.image_rows
        return Check("pass", "no volume of the launch is encrypted: KMS is not involved", rows)
    parts = []
    for use in case.key_uses:
        where = use.volume_id or (f"snapshot {use.snapshot_id}" if use.snapshot_id else use.source)
        key = use.key_arn or f"{use.key_ref} (not resolved to a key ARN)"
        how = {"volume": "", "image-snapshot": " (from the AMI's snapshot)",
               "launch-request": " (named in RunInstances)", "default-key": " (the default EBS key)",
               "launch-template": " (named in the launch template)"}[use.source]
        implicit = ", picked implicitly as the Region's default EBS key" if use.implicit_default else ""
        parts.append(f"{where} encrypted with {key}{how}{implicit}")
    return Check("fail", "; ".join(parts), uses)
