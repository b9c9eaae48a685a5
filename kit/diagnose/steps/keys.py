"""Step: each key's type, owner account and state."""

from __future__ import annotations

from kit.diagnose.case import Case
from kit.diagnose.findings import StepStatus
from kit.diagnose.steps.check import Analysis, Check

COLUMNS = ["key_arn", "account", "key_manager", "key_state", "enabled", "deletion_date", "origin",
           "description", "aliases", "policy_available"]


def check(case: Case, analysis: Analysis) -> Check:
    """fail for a key that is not Enabled, unknown when a key's metadata is missing, pass otherwise."""
    keys = case.frames.keys
    rows = keys[keys["key_arn"].isin(case.key_arns)]
    rows = rows[[c for c in COLUMNS if c in rows.columns]]
    if not case.key_arns:
        return Check("skipped" if case.encryption_known else "unknown",
                     "no encrypted volume's key to check" if case.encryption_known
                     else "the volumes' keys are unknown", rows)
    parts, bad, unknown = [], [], []
    for key_arn in case.key_arns:
        row = case.key(key_arn)
        owner = case.key_account(key_arn)
        foreign = f", owned by another account ({owner})" if case.foreign_key(key_arn) else ""
        if row is None:
            unknown.append(key_arn)
            parts.append(f"{key_arn}: describe-key not in the evidence{foreign}")
            continue
        kind = {"AWS": "AWS managed", "CUSTOMER": "customer managed"}.get(row.get("key_manager") or "", "type unknown")
        state = row.get("key_state") or "state unknown"
        if state != "Enabled":
            bad.append(key_arn)
        deletion = f" (deletion {row['deletion_date']})" if row.get("deletion_date") else ""
        parts.append(f"{key_arn}: {kind}, account {row.get('account') or owner}{foreign}, {state}{deletion}")
    status: StepStatus = "fail" if bad else ("unknown" if unknown else "pass")
    return Check(status, "; ".join(parts), rows)
