"""The stated call budget of one live collection (kit.collect.limits), with the Organizations part counted from
the simulated organization itself: the account's parents up to the root and the distinct SCPs attached on the way
(the catalogue's scenarios attach SCPs and move the account into nested OUs, so the number is read, not assumed)."""

from __future__ import annotations

from typing import Any

from kit.collect.limits import INCIDENT_CALL_BUDGET, organization_call_budget


def scp_path(org: Any, account_id: str) -> tuple[int, int]:
    """(targets, distinct SCPs) over `account_id`: the account, each OU above it and the root."""
    targets, child = [account_id], account_id
    while not child.startswith("r-"):
        [parent] = org.list_parents(ChildId=child)["Parents"]
        child = parent["Id"]
        targets.append(child)
    policies = {p["Id"] for target in targets for p in
                org.list_policies_for_target(TargetId=target, Filter="SERVICE_CONTROL_POLICY")["Policies"]}
    return len(targets), len(policies)


def assert_within_budget(calls: list[dict[str, Any]], org: Any, account_id: str) -> None:
    """The incident's calls (the change look-back already left out) keep both stated budgets."""
    organizations = [c for c in calls if c["operation"].startswith("organizations:")]
    others = [c["operation"] for c in calls if not c["operation"].startswith("organizations:")]
    assert len(others) <= INCIDENT_CALL_BUDGET, others
    assert len(organizations) <= organization_call_budget(*scp_path(org, account_id)), \
        [(c["operation"], c["params"]) for c in organizations]
