"""what_if(request, before, after): does a policy change allow a denied request, and what else does it allow?

`broadened` compares `before` and `after` on probe requests (kit/policy/probes.json): the same caller
with every other key action (CreateGrant also as a direct call, without kms:GrantIsForAWSResource),
the same caller on other keys and on Resource "*", a few non-KMS actions on "*", and other principals
on the same key. Each probe allowed after the change but not before is one line of `broadened`.
Probes on another key use a stand-in key policy (that key's account delegating to IAM, and sharing
it with the caller's account when cross-account), identical before and after: only identity, boundary,
SCP and session changes can widen access there. Probes for other principals keep the key policy and
SCPs of each side and give the stand-in principal fixed identity policies (none, or Allow *), so only
key-policy and SCP changes can widen access there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from kit.policy.document import Policy
from kit.policy.evaluate import evaluate, is_kms_key, resource_account
from kit.policy.matching import split_arn
from kit.policy.model import PolicySet, Request, WhatIf
from kit.policy.principals import caller_from

OTHER_ACCOUNT = "999999999999"
OTHER_KEY_ID = "ffffffff-ffff-ffff-ffff-ffffffffffff"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@dataclass(frozen=True)
class Probe:
    """A request to try under both policy sets, and how to derive its policies from each set."""

    request: Request
    policies: Callable[[PolicySet], PolicySet]
    label: str


def what_if(request: Request, before: PolicySet, after: PolicySet) -> WhatIf:
    """Evaluate `request` under `after`, and list what `after` allows on the probes that `before` did not."""
    decision = evaluate(request, after)
    broadened: list[str] = []
    seen: set[tuple[Any, ...]] = {_identity(request)}
    for probe in probes(request):
        key = _identity(probe.request)
        if key in seen:
            continue
        seen.add(key)
        now = evaluate(probe.request, probe.policies(after))
        if not now.allowed:
            continue
        if evaluate(probe.request, probe.policies(before)).allowed:
            continue
        broadened.append(f"{probe.label}" + (f" (allowed by {now.statement})" if now.statement else ""))
    return WhatIf(decision.allowed, decision, broadened)


def probes(request: Request) -> Iterator[Probe]:
    """Every probe request derived from `request` (see the module docstring)."""
    data = _probe_data()
    same = _same
    base = _without(request.context, data["grant_context_keys"])
    who = request.principal_arn
    # 1. the same caller, the same key, other actions
    if is_kms_key(request.resource):
        for action in data["key_actions"]:
            context = _grant_context(request, action, base)
            yield Probe(replace(request, action=action, context=context), same,
                        f"{who} may {action} on {request.resource}")
    for context, how in _direct_grant_contexts(request, base):
        yield Probe(replace(request, action="kms:CreateGrant", context=context), same,
                    f"{who} may kms:CreateGrant on {request.resource} {how}")
    # 2. the same caller, other keys and Resource "*"
    for resource, stand_in, where in _other_resources(request):
        for action in data["cross_actions"]:
            context = _grant_context(request, action, base)
            yield Probe(replace(request, action=action, resource=resource, context=context), stand_in,
                        f"{who} may {action} on {where}")
    for action in data["other_services"]:
        yield Probe(replace(request, action=action, resource="*", context={}), _no_resource_policy,
                    f"{who} may {action} on any resource")
    # 3. other principals, the same key
    for principal, principal_type, stand_in, who_else in _other_principals(request):
        context = _without(request.context, data["principal_context_keys"])
        for action in [request.action] + [a for a in data["cross_actions"] if a.lower() != request.action.lower()]:
            probe_context = context if action.lower() == request.action.lower() else _grant_context(
                request, action, _without(base, data["principal_context_keys"]))
            yield Probe(Request(principal, action, request.resource, probe_context, principal_type), stand_in,
                        f"{who_else} may {action} on {request.resource}")


def _same(policies: PolicySet) -> PolicySet:
    return policies


def _no_resource_policy(policies: PolicySet) -> PolicySet:
    return replace(policies, resource_policy=None)


def _grant_context(request: Request, action: str, base: dict[str, Any]) -> dict[str, Any]:
    """The original context for the original action; for another action, without grant-only keys
    (CreateGrant keeps the original's grant keys when the original was a grant operation)."""
    if action.lower() == request.action.lower():
        return dict(request.context)
    if action.lower() == "kms:creategrant" and request.action.lower() != "kms:creategrant":
        return {**base, "kms:GrantIsForAWSResource": "true"}
    return dict(base)


def _direct_grant_contexts(request: Request, base: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    direct = {k: v for k, v in base.items() if k.lower() != "kms:viaservice"}
    yield direct, "called directly (no kms:GrantIsForAWSResource, not through a service)"
    yield {**base, "kms:GrantIsForAWSResource": "false"}, "with kms:GrantIsForAWSResource false"


def _other_resources(request: Request) -> Iterator[tuple[str, Callable[[PolicySet], PolicySet], str]]:
    caller = caller_from(request.principal_arn, request.principal_type)
    parts = split_arn(request.resource)
    region = parts[3] if parts and parts[2] == "kms" and parts[3] else "us-east-1"
    partition = parts[1] if parts else "aws"
    home = resource_account(request.resource) or caller.account or OTHER_ACCOUNT
    other_region = "eu-west-1" if region != "eu-west-1" else "us-west-2"
    foreign = OTHER_ACCOUNT if OTHER_ACCOUNT not in (home, caller.account) else "888888888888"
    candidates = [
        (f"arn:{partition}:kms:{region}:{home}:key/{OTHER_KEY_ID}", home, "another key in the same account"),
        (f"arn:{partition}:kms:{other_region}:{home}:key/{OTHER_KEY_ID}", home, "a key in another Region"),
        (f"arn:{partition}:kms:{region}:{foreign}:key/{OTHER_KEY_ID}", foreign,
         f"a key of another account ({foreign}) shared with {caller.account}"),
    ]
    for resource, owner, where in candidates:
        if resource == request.resource:
            continue
        yield resource, _stand_in_key_policy(owner, caller.account), f"{where} ({resource})"
    yield "*", _no_resource_policy, 'Resource "*"'


def _stand_in_key_policy(owner: str, caller_account: str | None) -> Callable[[PolicySet], PolicySet]:
    principals = [f"arn:aws:iam::{owner}:root"]
    if caller_account and caller_account != owner:
        principals.append(f"arn:aws:iam::{caller_account}:root")
    document = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Enable IAM policies", "Effect": "Allow", "Principal": {"AWS": principals},
         "Action": "kms:*", "Resource": "*"}]}
    policy = Policy(document, "stand-in key policy")

    def derive(policies: PolicySet) -> PolicySet:
        return replace(policies, resource_policy=policy)

    return derive


def _other_principals(request: Request) -> Iterator[tuple[str, str | None, Callable[[PolicySet], PolicySet], str]]:
    caller = caller_from(request.principal_arn, request.principal_type)
    account = caller.account or resource_account(request.resource) or OTHER_ACCOUNT
    foreign = OTHER_ACCOUNT if OTHER_ACCOUNT not in (account, resource_account(request.resource)) else "888888888888"
    allow_all = Policy(ALLOW_ALL, "stand-in identity policy (Allow *)")

    def stand_in(identity: list[Policy], keep_scps: bool) -> Callable[[PolicySet], PolicySet]:
        def derive(policies: PolicySet) -> PolicySet:
            return PolicySet(identity=identity, resource_policy=policies.resource_policy,
                             scps=policies.scps if keep_scps else [],
                             management_account_id=policies.management_account_id)
        return derive

    yield (f"arn:aws:iam::{account}:user/kit-probe-other-user", "user", stand_in([], True),
           "another IAM user of the account with no IAM policies")
    yield (f"arn:aws:iam::{account}:role/kit-probe-other-role", "role_session", stand_in([], True),
           "another role of the account with no IAM policies")
    yield (f"arn:aws:iam::{account}:role/kit-probe-admin-role", "role_session", stand_in([allow_all], True),
           "another role of the account whose IAM policies allow everything")
    yield (f"arn:aws:iam::{foreign}:role/kit-probe-foreign-role", "role_session", stand_in([allow_all], False),
           f"a role of another account ({foreign}) whose IAM policies allow everything")
    yield ("s3.amazonaws.com", "service", stand_in([], False), "an AWS service principal (s3.amazonaws.com)")


def _without(context: Any, keys: list[str]) -> dict[str, Any]:
    lowered = [k.lower() for k in keys]
    return {k: v for k, v in dict(context).items()
            if not any(k.lower() == p or (p.endswith("/") and k.lower().startswith(p)) for p in lowered)}


def _identity(request: Request) -> tuple[Any, ...]:
    context = tuple(sorted((k.lower(), tuple(v) if isinstance(v, list) else v) for k, v in request.context.items()))
    return (request.principal_arn, request.principal_type, request.action.lower(), request.resource, context)


@lru_cache(maxsize=1)
def _probe_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(resources.files("kit.policy").joinpath("probes.json").read_text(encoding="utf-8"))
    return data
