"""KMS DescribeKey/ListGrants/CreateGrant with another account's key ARN: served from the owner's account when its key
policy admits the caller's account (moto only looks in the caller's account), AccessDeniedException if not;
EnableKey/CancelKeyDeletion/DisableKey by key ARN (moto takes only key ids there)."""

from __future__ import annotations

import fnmatch
import json

from kit.simulate import moto_state
from kit.simulate.extensions.context import Context, Handler
from kit.simulate.wire import BadRequest, Request, Response


def cross_account_read(request: Request, context: Context) -> Response:
    """moto's answer, from the key's owner account when the key ARN names another account that admits it."""
    key_id = str(request.json().get("KeyId", ""))
    caller, action = request.account, f"kms:{request.operation}"
    owner = foreign_key_owner(key_id, caller)
    if owner is None:
        return context.forward(request)
    if not key_admits(key_id, caller, action):
        caller_arn = moto_state.caller_arn(caller, request.access_key)
        raise BadRequest("AccessDeniedException",
                         f"User: {caller_arn} is not authorized to perform: {action} on resource: {key_id} "
                         f"because no resource-based policy allows the {action} action")
    return context.forward(request, account=owner)


def key_state_change(request: Request, context: Context) -> Response:
    """EnableKey, CancelKeyDeletion, DisableKey by key ARN, as AWS accepts (moto looks up only key ids)."""
    payload = request.json()
    key_id = str(payload.get("KeyId", ""))
    parts = key_id.split(":")
    if key_id.startswith("arn:") and len(parts) >= 6 and parts[5].startswith("key/"):
        if parts[4] != request.account:
            return context.forward(request, account=parts[4]) if key_admits(key_id, request.account,
                                                                            f"kms:{request.operation}") else (
                _denied(request, key_id))
        request.replace_json({**payload, "KeyId": parts[5].split("/", 1)[1]})
    return context.forward(request)


def _denied(request: Request, key_id: str) -> Response:
    caller_arn = moto_state.caller_arn(request.account, request.access_key)
    action = f"kms:{request.operation}"
    raise BadRequest("AccessDeniedException", f"User: {caller_arn} is not authorized to perform: {action} on "
                                              f"resource: {key_id} because no resource-based policy allows the "
                                              f"{action} action")


HANDLERS: dict[str, Handler] = {"DescribeKey": cross_account_read, "ListGrants": cross_account_read,
                                "CreateGrant": cross_account_read,
                                "EnableKey": key_state_change, "CancelKeyDeletion": key_state_change,
                                "DisableKey": key_state_change}


# ---- world -------------------------------------------------------------------------------------------------

def foreign_key_owner(key_id: str, caller: str) -> str | None:
    """The account a key ARN names when it is not the caller's (None for ids, aliases, own keys)."""
    parts = key_id.split(":")
    if not key_id.startswith("arn:") or len(parts) < 6 or parts[4] == caller:
        return None
    return parts[4]


def key_admits(key_arn: str, caller_account: str, action: str) -> bool:
    """Whether the key exists and its policy has an Allow naming the caller's account (or *) for `action`."""
    parts = key_arn.split(":")
    policy = moto_state.key_policy(parts[4], parts[3], parts[5].split("/")[-1])
    return policy is not None and key_policy_admits(policy, caller_account, action)


def key_policy_admits(policy: str, caller_account: str, action: str) -> bool:
    """Whether an Allow statement of the key policy names the caller's account (or *) for `action`."""
    try:
        statements = json.loads(policy).get("Statement", [])
    except (ValueError, AttributeError):
        return False
    names = {"*", caller_account, f"arn:aws:iam::{caller_account}:root"}
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        principals = principal.get("AWS", []) if isinstance(principal, dict) else principal
        principals = [principals] if isinstance(principals, str) else principals
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if (any(p in names or p.startswith(f"arn:aws:iam::{caller_account}:") for p in principals)
                and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions)):
            return True
    return False
