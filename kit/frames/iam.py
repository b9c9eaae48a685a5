"""Identity frames: principals (IAM users and roles) and every statement that applies to them:
inline, managed (default version), group, permissions boundary, and SCPs from the organization root down."""

from __future__ import annotations

import json
from typing import Any, Iterator
from urllib.parse import unquote

from kit.evidence import Evidence

GAAD = "iam.get-account-authorization-details.json"
MAX_ORGANIZATION_DEPTH = 8


def principal_rows(evidence: Evidence) -> Iterator[dict[str, Any]]:
    """One row per IAM user and role of get-account-authorization-details."""
    details = evidence.document(GAAD) or {}
    for kind, list_key, name_key in (("user", "UserDetailList", "UserName"), ("role", "RoleDetailList", "RoleName")):
        for entry in details.get(list_key) or []:
            arn = entry.get("Arn")
            path = entry.get("Path")
            yield {
                "arn": arn,
                "type": kind,
                "name": entry.get(name_key),
                "path": path,
                "account": arn.split(":")[4] if arn and arn.count(":") >= 5 else None,
                "service_linked": kind == "role" and bool(path and path.startswith("/aws-service-role/")),
                "groups": sorted(entry.get("GroupList") or []) if kind == "user" else [],
                "boundary_arn": (entry.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
                "assume_role_policy": policy_document(entry.get("AssumeRolePolicyDocument")) if kind == "role" else None,
                "tags": tag_map(entry.get("Tags")),
            }


def tag_map(tags: Any) -> dict[str, str]:
    """IAM Tags ([{Key, Value}]; absent when the principal has none) as {key: value}."""
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags or [] if isinstance(t, dict) and "Key" in t}


def identity_statement_rows(evidence: Evidence, account_id: str | None) -> Iterator[dict[str, Any]]:
    """Statement rows for every user and role (inline, managed, group, boundary), then the SCPs."""
    details = evidence.document(GAAD) or {}
    managed = managed_documents(evidence)
    groups = {g.get("GroupName"): g for g in details.get("GroupDetailList") or []}
    for kind, list_key, inline_key in (("user", "UserDetailList", "UserPolicyList"), ("role", "RoleDetailList", "RolePolicyList")):
        for entry in details.get(list_key) or []:
            principal = entry.get("Arn")
            for policy in entry.get(inline_key) or []:
                yield from _statements(principal, "inline", policy.get("PolicyName"), None, policy.get("PolicyDocument"))
            for attached in entry.get("AttachedManagedPolicies") or []:
                arn = attached.get("PolicyArn")
                yield from _statements(principal, "managed", attached.get("PolicyName"), arn, managed.get(arn))
            for group_name in entry.get("GroupList") or [] if kind == "user" else []:
                group = groups.get(group_name) or {}
                for policy in group.get("GroupPolicyList") or []:
                    yield from _statements(principal, "group-inline", policy.get("PolicyName"), None,
                                           policy.get("PolicyDocument"), group_name=group_name)
                for attached in group.get("AttachedManagedPolicies") or []:
                    arn = attached.get("PolicyArn")
                    yield from _statements(principal, "group-managed", attached.get("PolicyName"), arn,
                                           managed.get(arn), group_name=group_name)
            boundary = (entry.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
            if boundary:
                yield from _statements(principal, "boundary", boundary.rsplit("/", 1)[-1], boundary, managed.get(boundary))
    yield from scp_rows(evidence, account_id)
    yield from session_rows(evidence, managed)


SESSION_EVENTS = {"AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML", "GetFederationToken"}


def session_rows(evidence: Evidence, managed: dict[str, dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Session policies passed when a session was created (CloudTrail AssumeRole* / GetFederationToken
    events in the evidence): rows whose principal_arn is the session's ARN, source `session`."""
    from kit.frames.cloudtrail import records_from_documents

    for record in records_from_documents(evidence):
        if record.get("eventName") not in SESSION_EVENTS or record.get("errorCode"):
            continue
        request = record.get("requestParameters") or {}
        response = record.get("responseElements") or {}
        session = (response.get("assumedRoleUser") or response.get("federatedUser") or {}).get("arn")
        if not session:
            continue
        name = record.get("eventID")
        if request.get("policy") is not None:
            yield from _statements(session, "session", f"inline:{name}", None, request.get("policy"))
        for entry in request.get("policyArns") or []:
            arn = entry.get("arn") if isinstance(entry, dict) else None
            if arn:
                yield from _statements(session, "session", arn.rsplit("/", 1)[-1], arn, managed.get(arn))


def managed_documents(evidence: Evidence) -> dict[str, dict[str, Any]]:
    """Default-version documents of managed policies, by policy ARN: from get-account-authorization-details'
    Policies and from iam.get-policy.<name>.json + iam.get-policy-version.<name>.json pairs."""
    out: dict[str, dict[str, Any]] = {}
    for policy in (evidence.document(GAAD) or {}).get("Policies") or []:
        default = policy.get("DefaultVersionId")
        for version in policy.get("PolicyVersionList") or []:
            if version.get("IsDefaultVersion") or version.get("VersionId") == default:
                document = policy_document(version.get("Document"))
                if document is not None and policy.get("Arn"):
                    out[policy["Arn"]] = document
                break
    for name, document in evidence.documents_with_prefix("iam.get-policy.").items():
        qualifier = name[len("iam.get-policy."):].removesuffix(".json")
        meta = (document or {}).get("Policy") or {}
        version = (evidence.document(f"iam.get-policy-version.{qualifier}.json") or {}).get("PolicyVersion") or {}
        if meta.get("Arn") and version.get("Document") is not None and meta["Arn"] not in out:
            if not meta.get("DefaultVersionId") or version.get("VersionId") in (None, meta.get("DefaultVersionId")):
                parsed = policy_document(version["Document"])
                if parsed is not None:
                    out[meta["Arn"]] = parsed
    return out


def scp_rows(evidence: Evidence, account_id: str | None) -> Iterator[dict[str, Any]]:
    """SCP statements from organizations.* files: levels root first (0) down to the account."""
    chain = organization_chain(evidence, account_id)
    for level, target in enumerate(reversed(chain)):
        listed = (evidence.document(f"organizations.list-policies-for-target.{target}.json") or {}).get("Policies")
        for summary in listed or []:
            policy_id = summary.get("Id")
            described = (evidence.document(f"organizations.describe-policy.{policy_id}.json") or {}).get("Policy") or {}
            content = described.get("Content")
            name = summary.get("Name") or (described.get("PolicySummary") or {}).get("Name")
            arn = summary.get("Arn") or (described.get("PolicySummary") or {}).get("Arn")
            yield from _statements(None, "scp", name, arn, policy_document(content), scp_level=level, target_id=target)


def organization_chain(evidence: Evidence, account_id: str | None) -> list[str]:
    """[account, OU, ..., root] as far as organizations.list-parents files go; [] when the account is not
    known or has no list-policies-for-target/list-parents file at all."""
    if not account_id:
        return []
    chain = [account_id]
    current = account_id
    for _ in range(MAX_ORGANIZATION_DEPTH):
        parents = (evidence.document(f"organizations.list-parents.{current}.json") or {}).get("Parents") or []
        if not parents or not parents[0].get("Id") or parents[0]["Id"] in chain:
            break
        chain.append(parents[0]["Id"])
        if parents[0].get("Type") == "ROOT":
            break
        current = parents[0]["Id"]
    has_any = any(evidence.document(f"organizations.list-policies-for-target.{t}.json") is not None for t in chain)
    return chain if has_any else []


def policy_document(value: Any) -> dict[str, Any] | None:
    """A policy document as IAM or the CLI prints it (dict, JSON string, URL-encoded JSON string) as a dict."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        return None
    for text in (value, unquote(value)):
        try:
            parsed = json.loads(text)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return None


def _statements(
    principal: str | None,
    source: str,
    name: str | None,
    arn: str | None,
    document: Any,
    *,
    group_name: str | None = None,
    scp_level: int | None = None,
    target_id: str | None = None,
) -> Iterator[dict[str, Any]]:
    base = {
        "principal_arn": principal,
        "source": source,
        "policy_name": name,
        "policy_arn": arn,
        "group_name": group_name,
        "scp_level": scp_level,
        "target_id": target_id,
    }
    parsed = policy_document(document)
    if parsed is None:
        # the policy applies but its document is not in the evidence: one row says so (statement None)
        yield dict(base, index=None, sid=None, effect=None, statement=None, policy_version=None)
        return
    statements = parsed.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    if not statements:
        # a document without statements (allows nothing): one row, statement None, version set
        yield dict(base, index=None, sid=None, effect=None, statement=None, policy_version=parsed.get("Version") or "")
        return
    for index, statement in enumerate(statements):
        if isinstance(statement, dict):
            yield dict(base, policy_version=parsed.get("Version"), index=index, sid=statement.get("Sid"),
                       effect=statement.get("Effect"), statement=statement)
