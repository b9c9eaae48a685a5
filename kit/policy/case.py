"""The authorization-case format of contracts.md section 4 (`kit policy check CASE.json`)."""

from __future__ import annotations

from typing import Any

from kit.errors import BadInput
from kit.policy.document import parse_policy
from kit.policy.model import PolicySet, Request

CASE_FIELDS = ("principal_arn", "action", "resource")


def load_case(data: dict[str, Any]) -> tuple[Request, PolicySet]:
    """A Request and its PolicySet from a parsed case; other fields in the case are ignored.

    Optional beyond the contract: `principal_type`, `session_policies` (list of documents) and
    `management_account_id` (SCPs do not affect that account's principals).
    """
    if not isinstance(data, dict):
        raise BadInput("case", "a JSON object (docs/contracts.md section 4)", data)
    for name in CASE_FIELDS:
        if not isinstance(data.get(name), str) or not data[name]:
            raise BadInput(name, "a non-empty string", data.get(name))
    context = data.get("context") or {}
    if not isinstance(context, dict):
        raise BadInput("context", "an object of condition keys to strings or lists of strings", context)
    request = Request(data["principal_arn"], data["action"], data["resource"], context, data.get("principal_type"))
    identity = _list(data, "identity_policies")
    sessions = _list(data, "session_policies")
    scps = data.get("scps") or []
    if not isinstance(scps, list) or not all(isinstance(level, list) for level in scps):
        raise BadInput("scps", "a list of organization levels (root first), each a list of SCP documents", scps)
    resource_policy = data.get("resource_policy")
    boundary = data.get("boundary")
    for name, value in (("resource_policy", resource_policy), ("boundary", boundary)):
        if value is not None and not isinstance(value, (dict, str)):
            raise BadInput(name, "a policy document or null", value)
    management = data.get("management_account_id")
    if management is not None and not isinstance(management, str):
        raise BadInput("management_account_id", "a 12-digit account id or null", management)
    policies = PolicySet(
        identity=[_named(doc, f"identity_policies[{i}]") for i, doc in enumerate(identity)],
        resource_policy=resource_policy,
        boundary=boundary,
        scps=[[_named(doc, f"scps[{lvl}][{i}]") for i, doc in enumerate(level)] for lvl, level in enumerate(scps)],
        session_policies=[_named(doc, f"session_policies[{i}]") for i, doc in enumerate(sessions)],
        management_account_id=management,
    )
    return request, policies


def _list(data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name) or []
    if not isinstance(value, list):
        raise BadInput(name, "a list of policy documents", value)
    return value


def _named(document: Any, name: str) -> Any:
    if not isinstance(document, (dict, str)):
        raise BadInput(name, "a policy document", document)
    return parse_policy(document, name)
