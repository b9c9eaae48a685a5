"""Remediation: for each cause the smallest change that fixes it, verified with the evaluator, never applied.

Every item carries `verified`: true only when the evaluator's what_if turns the failing request into an
allow with the item's change set, nothing broader than needed is granted (what_if's probes, no kms:*,
no Resource "*" in identity-side statements) and no policy layer of the decision was missing from the
evidence. Key-state fixes are verified when the evaluator allows the request once the key is usable.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import replace
from typing import Any

from kit import causes as cause_table
from kit.diagnose.authorization import Authorization, without_modelled_grant
from kit.diagnose.case import Case
from kit.diagnose.findings import Remediation, RemediationKind
from kit.diagnose.metadata import load_data
from kit.diagnose.remediation.changes import (
    USE_ACTIONS,
    PolicyChange,
    apply_change,
    role_of,
    fix_policies,
    identity_statements,
    session_policy_change,
)
from kit.diagnose.remediation.render import add_to_key_policy_cli, cli, policy_cli, policy_terraform, reread_command, terraform, text
from kit.diagnose.remediation.verify import (
    GRANT_ONLY_KEYS,
    Verification,
    aws_ebs_policy,
    needed_requests,
    verify,
    verify_grant,
)
from kit.diagnose.verdict import Judgement, read_command
from kit.policy import Grant, Policy, PolicySet, Request, evaluate


def key_state_causes() -> tuple[str, ...]:
    """The KMS causes a key's state makes (kit/causes.yaml key_states): fixed by making the key usable."""
    return tuple(c.id for c in cause_table.causes().values() if c.key_states)


def policy_causes() -> tuple[str, ...]:
    """The other KMS causes: a policy (or the key's owner) refuses EC2's use of the key."""
    return tuple(c for c in cause_table.causes_of_kind("kms") if c not in key_state_causes())


def remediate(case: Case, judgement: Judgement) -> list[Remediation]:
    """The remediation items for the verdict (empty for causes outside KMS)."""
    verdict = judgement.verdict
    cause = verdict.cause
    key = verdict.key_arn
    key_row = case.key(key) or {}
    auth = judgement.authorization
    items: list[Remediation] = []
    if key_row.get("key_manager") == "AWS" and cause in policy_causes():
        items.append(Remediation("cli", key, {"commands": [], "files": {}}, False, title="AWS managed key",
                                 explanation=text("aws-managed", key=key), note="an AWS managed key policy cannot change"))
    state = key_row.get("key_state")
    if cause in key_state_causes() or (cause == "ebs-default-key-unusable" and state and state != "Enabled"):
        items += _key_state(case, key, key_row, auth)
        if cause in key_state_causes() and auth is not None and not auth.decision.allowed:
            items += _policies(case, judgement, key_row)  # usable again, the key would still be refused
    slr_cross_account = cause == "service-role-key-access" and bool(key) and case.foreign_key(key)
    if slr_cross_account and key:
        items += _grant_for_service_role(case, judgement, key)
    elif cause in policy_causes() and auth is not None and not auth.decision.allowed:
        items += _policies(case, judgement, key_row)
    elif key and cause != "kms-cross-account-key" and _refused_by_an_unseen_layer(judgement):
        items += _unseen_layers(case, judgement, key, key_row)
    elif verdict.denied_by == "session-policy" and key:
        items += _session_policy(case, judgement, key)
    if cause == "kms-cross-account-key":
        items += _cross_account(case, key, key_row, auth)
        items += _pin_aws_ebs(case)
    if cause == "ebs-default-key-unusable":
        items += _default_key(case, key, auth)
    items += operational(case, cause)
    return items


def operational(case: Case, cause: str) -> list[Remediation]:
    """What to do about a lookalike that no policy causes: capacity (retry, another type or zone), the EBS
    storage quota (request more), a missing snapshot."""
    instance = case.instance or {}
    instance_id, region = case.instance_id, case.region
    zone = instance.get("availability_zone") or "its Availability Zone"
    itype = instance.get("instance_type") or "this instance type"
    note = "an operational step, not a policy change: the evaluator has nothing to check"
    common: dict[str, Any] = dict(change_set="operational", note=note, verification="not-verified")
    start = cli("start-instance", instance=instance_id, region=region)
    if cause == "insufficient-capacity":
        commands = [start,
                    f"aws ec2 modify-instance-attribute --instance-id {instance_id} --instance-type "
                    f"\"Value=$OTHER_INSTANCE_TYPE\" --region {region} && {start}"]
        return [Remediation("cli", instance_id, {"commands": commands, "files": {}}, False,
                            title="Retry, or start with another instance type",
                            explanation=text("capacity", instance_type=itype, zone=zone), **common)]
    if cause == "volume-limit-exceeded":
        volumes = case.volume_rows
        types = sorted({str(t) for t in volumes["volume_type"].dropna()}) if len(volumes) else []
        volume_type = types[0] if types else "gp3"
        lookup = (f"aws service-quotas list-service-quotas --service-code ebs --region {region} --query "
                  f"\"Quotas[?contains(QuotaName, '({volume_type})')].QuotaCode | [0]\" --output text")
        commands = [f"aws service-quotas request-service-quota-increase --service-code ebs --region {region} "
                    f"--quota-code \"$({lookup})\" --desired-value \"$DESIRED_TIB\"", start]
        return [Remediation("cli", f"service-quotas:ebs ({region})", {"commands": commands, "files": {}}, False,
                            title=f"Request a higher EBS storage quota ({volume_type})",
                            explanation=text("volume-limit", region=region), **common)]
    if cause == "snapshot-not-found":
        return [Remediation("cli", instance_id, {"commands": [], "files": {}}, False,
                            title="Launch from an AMI whose snapshots exist",
                            explanation=text("snapshot-missing"), **common)]
    return []


# ---- policies --------------------------------------------------------------------------------------------

def _policies(case: Case, judgement: Judgement, key_row: dict[str, Any]) -> list[Remediation]:
    auth = judgement.authorization
    if auth is None:
        return []
    launcher = case.launcher
    kind = launcher.kind if launcher else "unknown"
    new_volumes = launch_creates_volumes(case)
    requests = needed_requests(refused_request(auth.request, judgement), new_volumes=new_volumes)
    changes, after = fix_policies(requests, auth.policies, principal_kind=kind,
                                  key_manager=key_row.get("key_manager"), new_volumes=new_volumes)
    check = verify(auth, changes, after, new_volumes=new_volumes, requests=requests)
    changes = [replace(c, document=without_modelled_grant(c.document)) if c.layer == "key-policy" and c.document
               else c for c in changes]
    items: list[Remediation] = []
    if any(c.layer == "key-policy" for c in changes) and kind == "service-linked-role" and launcher is not None:
        items += _create_service_linked_role_first(case, launcher.arn, launcher.service)
    for change in changes:
        if not change.possible or change.document is None:  # the same: no document when impossible
            items.append(Remediation("cli", change.target, {"commands": [], "files": {}}, False,
                                     title=f"{change.layer}: cannot be changed by a policy edit",
                                     explanation=text(change.text, key=auth.request.resource,
                                                      principal=auth.request.principal_arn),
                                     change_set="policy", note=check.note, verification="not-verified"))
            if change.text == "aws-managed":
                items += _pin_aws_ebs(case)
            continue
        kind_of: RemediationKind = "key-policy" if change.layer == "key-policy" else "iam-policy"
        actions = ", ".join(dict.fromkeys(r.action for r in requests))
        explanation = text(change.text, principal=auth.request.principal_arn, target=change.target,
                           statement=change.statement or "", key=auth.request.resource, actions=actions)
        title = {"identity-policy": "IAM policy for the launching principal", "key-policy": "Key policy",
                 "permissions-boundary": "Permissions boundary", "scp": "Service control policy",
                 "session-policy": "Session policy for the next session"}[change.layer]
        name = _display_name(case, change)
        if name:
            title = f"{title} {name}"
        diff, reread = _diff(change, auth.policies), reread_command(change)
        if change.replaces and reread:
            explanation += " " + text("reread", read=reread)
        if change.layer == "permissions-boundary" or (change.replaces or "").startswith(("managed:", "group-managed:")):
            explanation += " " + text("five-versions")
        common: dict[str, Any] = dict(change_set="policy", note=check.note, layer=change.layer,
                                      replaces=change.replaces, verification=check.status,
                                      checked_against=check.checked_against, not_in_evidence=check.not_in_evidence,
                                      checked_calls=check.checked_calls, diff=diff)
        common["explanation"] = explanation
        items.append(Remediation(kind_of, change.target, change.document, check.verified, title=title, **common))
        where = " (run in the organization's management account or as its delegated administrator)" if (
            change.layer == "scp") else ""
        items.append(Remediation("cli", change.target, policy_cli(change, case.region, launcher_class=_class_of(case)),
                                 check.verified, title=f"{title}: AWS CLI{where}", **common))
        terraform_text = policy_terraform(change, auth.request.principal_arn,
                                          scp_name=scp_name(case, change.target) if change.layer == "scp" else None)
        if terraform_text:
            items.append(Remediation("terraform", change.target, terraform_text, check.verified,
                                     title=f"{title}: Terraform", **common))
    return items


def launch_creates_volumes(case: Case) -> bool:
    """The launch creates volumes (RunInstances, an Auto Scaling launch): EC2 then also generates and
    decrypts data keys as the launcher."""
    return bool(case.launch_event and case.launch_event.get("event_name") == "RunInstances") or bool(
        (case.instance or {}).get("autoscaling_group"))


def refused_request(request: Request, judgement: Judgement) -> Request:
    """The request for the call AWS refused (CloudTrail's event name, e.g. GenerateDataKeyWithoutPlaintext),
    else the evaluated CreateGrant."""
    failure = judgement.failure
    action = f"kms:{failure.event_name}" if failure is not None and failure.event_name else request.action
    if failure is None or failure.infrastructure or action.lower() == request.action.lower():
        return request
    context = {k: v for k, v in request.context.items() if k not in GRANT_ONLY_KEYS}
    return replace(request, action=action, context=context)


def scp_name(case: Case, policy_id: str | None) -> str | None:
    """The SCP's name (as Organizations knows it) for its id, from the evidence."""
    if not policy_id:
        return None
    rows = case.frames.identity_statements
    rows = rows[rows["source"] == "scp"]
    for _, row in rows.iterrows():
        arn, name = row.get("policy_arn"), row.get("policy_name")
        if isinstance(arn, str) and arn.rsplit("/", 1)[-1] == policy_id and isinstance(name, str) and name:
            return name
    return None


def _display_name(case: Case, change: PolicyChange) -> str:
    if change.layer == "scp":
        name = scp_name(case, change.target)
        return f"{name} ({change.target})" if name else str(change.target)
    if change.layer == "key-policy":
        alias = _alias_of(case, change.target)
        return f"of {alias}" if alias else ""
    if change.replaces:
        return change.replaces.partition(":")[2].rsplit("/", 1)[-1]
    return change.policy_name or ""


def _alias_of(case: Case, key: str | None) -> str | None:
    aliases = case.frames.aliases
    if not key or not len(aliases):
        return None
    rows = aliases[(aliases["key_arn"] == key) & aliases["alias_name"].notna()]
    return str(rows.iloc[0]["alias_name"]) if len(rows) else None


def _diff(change: PolicyChange, before: PolicySet) -> str:
    """The unified diff of a whole-document replacement (the evidence's document -> the proposed one)."""
    if not change.replaces or change.document is None:
        return ""
    every = list(before.identity) + list(before.session_policies) + [p for lvl in before.scps for p in lvl]
    every += [p for p in (before.boundary, before.resource_policy) if p is not None]
    old = next((p.document for p in every if p.name == change.replaces), None)
    if old is None:
        return ""
    if change.layer == "key-policy":
        old = without_modelled_grant(old)
    lines = difflib.unified_diff(json.dumps(old, indent=2).splitlines(), json.dumps(change.document, indent=2).splitlines(),
                                 f"current {change.replaces}", "proposed", lineterm="")
    return "\n".join(lines)


def _create_service_linked_role_first(case: Case, role_arn: str, service: str | None) -> list[Remediation]:
    """A key policy can name a service-linked role only once it exists: when the evidence does not show it,
    creating it is the first step."""
    principals = case.frames.principals
    exists = bool(len(principals)) and bool((principals["arn"] == role_arn).any())
    if exists or not len(principals):
        return []  # it exists, or IAM is not in the evidence (the key-policy item's note says what was checked)
    name = role_arn.rsplit("/", 1)[-1]
    service = service or _service_of_slr(role_arn)
    commands = [f"{cli('get-role', name=name)} || {cli('create-service-linked-role', service=service)}"]
    return [Remediation("cli", role_arn, {"commands": commands, "files": {}}, False,
                        title="First create the service-linked role",
                        explanation=text("slr-missing", principal=role_arn, account=case.account_id or "?"),
                        change_set="policy", note="a step before the key policy: a key policy cannot name a role "
                                                  "that does not exist", verification="not-verified")]


def _service_of_slr(role_arn: str) -> str:
    path = role_arn.split(":role/", 1)[-1]
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "aws-service-role" else "autoscaling.amazonaws.com"


def _pin_aws_ebs(case: Case) -> list[Remediation]:
    """Where the key's policy cannot change here (an AWS managed key, another account's key): new volumes on the
    AWS managed key aws/ebs, through a new version of the launch template the instance came from (EC2 tags an
    instance launched from a template with aws:ec2launchtemplate:id). Nothing without that tag."""
    instance = case.instance or {}
    tags = instance.get("tags") if isinstance(instance.get("tags"), dict) else {}
    template = (tags or {}).get("aws:ec2launchtemplate:id")
    if not template or not launch_creates_volumes(case):
        return []
    device = instance.get("root_device_name") or "/dev/xvda"
    data = json.dumps({"BlockDeviceMappings": [{"DeviceName": device, "Ebs": {"Encrypted": True,
                                                                               "KmsKeyId": "alias/aws/ebs"}}]})
    command = (f"aws ec2 create-launch-template-version --launch-template-id {template} --source-version "
               f"'$Latest' --launch-template-data '{data}' --region {case.region}")
    return [Remediation("cli", template, {"commands": [command], "files": {}}, False,
                        title="Alternative: launch new volumes with alias/aws/ebs", explanation=text("pin-aws-ebs"),
                        change_set="pin-aws-ebs", note="not verified: an alternative that changes the key of new "
                                                       "volumes, not a policy", verification="not-verified")]


def _refused_by_an_unseen_layer(judgement: Judgement) -> bool:
    """CloudTrail shows the launcher's request refused while only stand-ins for missing layers let it through."""
    auth, failure = judgement.authorization, judgement.failure
    return (judgement.verdict.cause in policy_causes() and auth is not None and auth.outcome == "unknown"
            and failure is not None and not failure.infrastructure)


def _unseen_layers(case: Case, judgement: Judgement, key: str, key_row: dict[str, Any]) -> list[Remediation]:
    """CloudTrail shows the refusal and every layer the evidence shows allows: the fix belongs to the refusing
    layer the evidence lacks (the verdict's denied_by, or each unknown layer when it is `unknown`). Its document
    is unknown, so the item is the statement to add to it, and it is never verified."""
    from kit.diagnose.remediation.changes import key_policy_statements, scoped_identity_statement

    auth = judgement.authorization
    if auth is None:
        return []
    denied_by = judgement.verdict.denied_by
    if denied_by in auth.unseen_layers:
        layers = [denied_by]
    elif denied_by == "unknown":
        layers = list(auth.unknown_layers)
    else:
        return []  # CloudTrail names a layer the evidence shows: the evidence differs from what AWS applied
    launcher = case.launcher
    principal = auth.request.principal_arn
    service_linked = bool(launcher and launcher.kind == "service-linked-role")
    new_volumes = bool(case.launch_event and case.launch_event.get("event_name") == "RunInstances") or bool(
        (case.instance or {}).get("autoscaling_group"))
    region = key.split(":")[3] if key.count(":") >= 5 else case.region
    items: list[Remediation] = []
    for layer in layers:
        read = read_command(case, layer, key)
        note = f"not verified: the {layer} is not in the evidence; read it ({read}) and merge this into it"
        explanation = text("unseen-layer", layer=layer, read=read)
        common: dict[str, Any] = dict(change_set=f"unseen-{layer}", note=note, layer=layer)
        if layer == "key-policy":
            if key_row.get("key_manager") == "AWS":
                continue  # an AWS managed key's policy cannot change (its own item says so)
            account = principal.split(":")[4] if principal.count(":") >= 5 else None
            statements = key_policy_statements(principal, region, account, service_linked=service_linked,
                                               new_volumes=new_volumes)
            items.append(Remediation("key-policy", key, {"Version": "2012-10-17", "Statement": statements}, False,
                                     title="Key policy (not in the evidence): add these statements",
                                     explanation=explanation, **common))
        elif layer == "identity-policy" and not service_linked:
            document = {"Version": "2012-10-17", "Statement": [scoped_identity_statement(key)]}
            owner = role_of(principal)  # a role session's policies are its role's
            change = PolicyChange("identity-policy", owner, document, None, "identity-allow",
                                  policy_name=load_data("remediation.yaml")["names"]["iam_policy"], principal=owner)
            items.append(Remediation("iam-policy", principal, document, False,
                                     title="IAM policy for the launching principal (its policies are not in the "
                                           "evidence)", explanation=explanation, **common))
            items.append(Remediation("cli", principal, policy_cli(change, case.region), False,
                                     title="IAM policy for the launching principal: AWS CLI", **common))
            items.append(Remediation("terraform", principal, policy_terraform(change, principal), False,
                                     title="IAM policy for the launching principal: Terraform", **common))
        elif layer == "session-policy":
            items += _session_policy(case, judgement, key)
        elif layer in ("scp", "permissions-boundary"):
            title = {"scp": "Service control policy", "permissions-boundary": "Permissions boundary"}[layer]
            items.append(Remediation("cli", principal, {"commands": [read], "files": {
                "statement.json": scoped_identity_statement(key)}}, False,
                title=f"{title} (not in the evidence): read it, then add the scoped statement",
                explanation=explanation, **common))
    return items


def _session_policy(case: Case, judgement: Judgement, key: str) -> list[Remediation]:
    """The session policy the next session passes, allowing what the refused call and every other KMS call
    the launch needs (the current session policy is not in the evidence: checked against every other layer)."""
    auth = judgement.authorization
    launcher = case.launcher
    new_volumes = launch_creates_volumes(case)
    role = launcher.arn if launcher else "<role-arn>"
    if auth is not None:
        requests = needed_requests(refused_request(auth.request, judgement), new_volumes=new_volumes)
        uses = new_volumes or any(r.action.lower() != "kms:creategrant" for r in requests)
        change = session_policy_change(requests[0], auth.policies, uses)
        change = replace(change, target=role, principal=role)
        document = change.document or {}
        after = apply_change(auth.policies, "session-policy", document, None, "kit-session-policy")
        after = replace(after, session_policies=[p for p in after.session_policies] or
                        [Policy(document, "session:kit-session-policy")])
        check = verify(auth, [change], after, new_volumes=new_volumes,
                       unseen=[] if auth.policies.session_policies else ["session-policy"], requests=requests)
        actions = ", ".join(dict.fromkeys(r.action for r in requests))
    else:
        document = {"Version": "2012-10-17", "Statement": identity_statements(key, new_volumes=new_volumes)}
        change = PolicyChange("session-policy", role, document, None, "session-policy", principal=role)
        check = Verification(False, "not-verified", "not verified: the launching principal's policies were not "
                                                    "evaluated")
        actions = "kms:CreateGrant"
    common: dict[str, Any] = dict(change_set="session-policy", note=check.note, layer="session-policy",
                                  verification=check.status, checked_against=check.checked_against,
                                  not_in_evidence=check.not_in_evidence, checked_calls=check.checked_calls)
    explanation = text("session-policy", actions=actions, key=key)
    return [Remediation("iam-policy", role, document, check.verified, title="Session policy for the next session",
                        explanation=explanation, **common),
            Remediation("cli", role, policy_cli(change, case.region, launcher_class=_class_of(case)), check.verified,
                        title="Session policy for the next session: AWS CLI", explanation=explanation, **common)]


def _grant_for_service_role(case: Case, judgement: Judgement, key: str) -> list[Remediation]:
    """Cross-account, a service-linked role gets the key through a grant a person of its account creates
    (no kms:GrantIsForAWSResource condition: a person, not a service, creates it). The grant is verified by the
    evaluator, which models grants: every KMS call the launch needs, as the role, allowed with it. The key-policy
    and IAM items are what the person who creates the grant needs, if they lack it (not part of the check)."""
    launcher = case.launcher
    role = launcher.arn if launcher else "<service-linked-role-arn>"
    owner = case.key_account(key)
    account = case.account_id or "<account-id>"
    operations = ["Decrypt", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo", "CreateGrant",
                  "DescribeKey"]
    creator = ("the person running create-grant needs kms:CreateGrant on the key in IAM and in the key policy "
               f"of account {owner}")
    auth = judgement.authorization
    if auth is not None and launcher is not None:
        requests = needed_requests(refused_request(auth.request, judgement),
                                   new_volumes=launch_creates_volumes(case))
        check = verify_grant(auth, Grant(role, tuple(operations), name="the proposed grant"), requests)
    else:
        check = Verification(False, "not-verified", "not verified: the launching principal's request was not "
                                                    "evaluated")
    note = f"{check.note}; {creator}"
    checked: dict[str, Any] = dict(verification=check.status, checked_against=check.checked_against,
                                   not_in_evidence=check.not_in_evidence, checked_calls=check.checked_calls)
    region = key.split(":")[3]
    grant = {"KeyId": key, "GranteePrincipal": role, "Operations": operations}
    key_side = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowAccountToCreateGrantsForItsServiceRoles", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": ["kms:CreateGrant", "kms:DescribeKey"],
         "Resource": "*"}]}
    caller_side = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowCreateGrantForServiceRole", "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": key,
         "Condition": {"StringEquals": {"kms:GranteePrincipal": role}}}]}
    common: dict[str, Any] = dict(change_set="service-role-grant", note=note)
    return [
        Remediation("key-policy", key, key_side, False, title=f"Key policy in account {owner}: let {account} create grants",
                    explanation=text("grant-for-slr", principal=role, account=account), layer="key-policy", **common),
        Remediation("iam-policy", f"arn:aws:iam::{account}:root", caller_side, False,
                    title="IAM policy for the person who creates the grant", layer="identity-policy", **common),
        Remediation("kms-grant", role, grant, check.verified, title="Grant for the service-linked role",
                    explanation=text("grant-for-slr", principal=role, account=account), **common, **checked),
        Remediation("cli", role, {"commands": [cli("create-grant", key=key, grantee=role, operations=" ".join(operations),
                                                   region=region)], "files": {}}, check.verified,
                    title="Grant for the service-linked role: AWS CLI", **common, **checked),
        Remediation("terraform", role, terraform("grant", resource="service_role", name="service-linked-role-ebs",
                                                 key=key, grantee=role, operations=json.dumps(operations)),
                    check.verified, title="Grant for the service-linked role: Terraform", **common, **checked),
    ]


# ---- key state -------------------------------------------------------------------------------------------

def _key_state(case: Case, key: str | None, key_row: dict[str, Any], auth: Authorization | None) -> list[Remediation]:
    if not key:
        return []
    state = key_row.get("key_state")
    region = (key.split(":")[3] if key.count(":") >= 5 else case.region)
    allowed = bool(auth and auth.decision.allowed and auth.conclusive)
    note = ("the evaluator allows EC2's CreateGrant for the launcher once the key is usable" if allowed else
            "not verified: the evaluator " + ("denies the request as well (see the policy change)" if auth and
                                              not auth.decision.allowed else "could not evaluate the request"))
    start = cli("start-instance", instance=case.instance_id, region=case.region)
    if state == "Disabled":
        commands = [cli("enable-key", key=key, region=region), start]
        return [Remediation("cli", key, {"commands": commands, "files": {}}, allowed, title="Enable the key",
                            explanation=text("enable-key"), change_set="key-state", note=note),
                Remediation("terraform", key, terraform("enable-key", resource="key", key=key), allowed,
                            title="Enable the key: Terraform", change_set="key-state", note=note)]
    if state in ("PendingDeletion", "PendingReplicaDeletion"):
        commands = [cli("cancel-key-deletion", key=key, region=region), cli("enable-key", key=key, region=region), start]
        return [Remediation("cli", key, {"commands": commands, "files": {}}, allowed,
                            title="Cancel the key's deletion, then enable it", explanation=text("cancel-deletion"),
                            change_set="key-state", note=note),
                Remediation("terraform", key, terraform("enable-key", resource="key", key=key), allowed,
                            title="Keep the key enabled: Terraform", change_set="key-state", note=note)]
    if state == "PendingImport":
        commands = [cli("import-parameters", key=key, region=region), cli("import-key-material", key=key, region=region),
                    start]
        return [Remediation("cli", key, {"commands": commands, "files": {}}, False, title="Import the key material",
                            explanation=text("key-unusable", key_state=state, how="import the key material again"),
                            change_set="key-state", verification="not-verified",
                            note="not verified: importing needs the key material, which the kit cannot have (" + note + ")")]
    if state == "Unavailable":
        commands = [cli("connect-key-store", store="<custom-key-store-id>", region=region), start]
        return [Remediation("cli", key, {"commands": commands, "files": {}}, False,
                            title="Reconnect the custom key store",
                            explanation=text("key-unusable", key_state=state, how="reconnect its custom key store"),
                            change_set="key-state", verification="not-verified",
                            note="not verified: reconnecting needs the custom key store's id and its HSMs (" + note + ")")]
    return [Remediation("cli", key, {"commands": [], "files": {}}, False, title="The key is gone",
                        explanation=text("key-gone"), change_set="key-state",
                        note="nothing can make a deleted key usable")]


# ---- cross-account and AMIs ------------------------------------------------------------------------------

def _cross_account(case: Case, key: str | None, key_row: dict[str, Any], auth: Authorization | None) -> list[Remediation]:
    """Both sides of a cross-account key: the statements the key policy in the key's account must hold, and
    the launcher's own IAM policy in its account, for every KMS call the launch needs."""
    items: list[Remediation] = []
    owner = case.key_account(key)
    launcher = case.launcher
    if launcher is not None and key and key_row.get("key_manager") != "AWS":
        from kit.diagnose.remediation.changes import key_policy_statements

        region = key.split(":")[3]
        statements = key_policy_statements(launcher.arn, region, launcher.account_id,
                                           service_linked=launcher.kind == "service-linked-role",
                                           new_volumes=True)
        document = {"Version": "2012-10-17", "Statement": statements}
        common: dict[str, Any] = dict(change_set="cross-account", verification="not-verified",
                                      note="not verified: the key policy in account "
                                           f"{owner} is not readable from this account")
        if auth is None or "key-policy" in auth.unknown_layers:
            items.append(Remediation("key-policy", key, document, False, title=f"Key policy in account {owner}: add",
                                     explanation=text("cross-account-key-side", key_account=owner), layer="key-policy",
                                     **common))
            items.append(Remediation("cli", key, {"commands": [add_to_key_policy_cli(key, region, statements)],
                                                  "files": {}}, False,
                                     title=f"Key policy in account {owner}: AWS CLI (run in {owner})",
                                     layer="key-policy", **common))
        identity_allows = False
        if auth is not None and "identity-policy" not in auth.unknown_layers:
            admits = Policy({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": auth.request.principal_arn},
                 "Action": ["kms:CreateGrant", *USE_ACTIONS], "Resource": "*"}]}, "stand-in:key-policy")
            trial = replace(auth.policies, resource_policy=admits)
            identity_allows = all(evaluate(r, trial).allowed for r in needed_requests(auth.request, new_volumes=True))
        if launcher.kind != "service-linked-role":
            identity = {"Version": "2012-10-17", "Statement": identity_statements(key, new_volumes=True)}
            change = PolicyChange("identity-policy", launcher.arn, identity, None, "cross-account-identity-side",
                                  policy_name=load_data("remediation.yaml")["names"]["iam_policy"],
                                  principal=launcher.arn)
            actions = ", ".join(["kms:CreateGrant", *USE_ACTIONS])
            explanation = text("cross-account-identity-side", account=case.account_id or launcher.account_id,
                               principal=launcher.arn, actions=actions)
            if identity_allows:
                explanation += " " + text("cross-account-identity-allows", principal=launcher.arn)
            items.append(Remediation("iam-policy", launcher.arn, identity, False,
                                     title=f"IAM policy for the launcher in account {launcher.account_id}",
                                     explanation=explanation, layer="identity-policy", **common))
            items.append(Remediation("cli", launcher.arn, policy_cli(change, case.region, launcher_class=_class_of(case)),
                                     False, title=f"IAM policy for the launcher in account {launcher.account_id}: "
                                                  "AWS CLI", layer="identity-policy", **common))
            items.append(Remediation("terraform", launcher.arn, policy_terraform(change, launcher.arn), False,
                                     title="IAM policy for the launcher: Terraform", layer="identity-policy",
                                     **common))
    images = case.image_rows
    shared = bool(len(images)) and bool(case.account_id) and bool((images["owner_id"].dropna() != case.account_id).any())
    if shared and (key_row.get("key_manager") == "AWS" or not key_row):
        image = (case.instance or {}).get("image_id") or "<ami-id>"
        why = ("AWS managed keys cannot be used across accounts, so the owner must copy and re-encrypt it."
               if key_row.get("key_manager") == "AWS" else "The owner's key policy must admit this account.")
        commands = [cli("copy-image", image=image, region=case.region, name=f"{image}-reencrypted",
                        key="<customer-managed-key-arn>")]
        items.append(Remediation("cli", image, {"commands": commands, "files": {}}, False,
                                 title="Re-encrypt the AMI with a usable key",
                                 explanation=text("reencrypt-ami", key=key, key_account=owner, why=why),
                                 change_set="ami", note="not a policy change: the evaluator cannot verify it"))
    return items


# ---- the default EBS key ---------------------------------------------------------------------------------

def _default_key(case: Case, key: str | None, auth: Authorization | None) -> list[Remediation]:
    launcher = case.launcher
    commands = [cli("reset-default-key", region=case.region)]
    verified, note = False, "not verified: the launcher is unknown"
    if launcher is not None and case.account_id and auth is not None:
        aws_key = _aws_ebs_key_arn(case)
        request = Request(launcher.arn, "kms:CreateGrant", aws_key, dict(auth.request.context), launcher.request_type)
        policies = replace(auth.policies, resource_policy=aws_ebs_policy(case.account_id, case.region))
        decision = evaluate(request, policies)
        verified = decision.allowed and not auth.unknown_layers
        note = ("the evaluator allows EC2's CreateGrant on aws/ebs (its fixed key policy) for the launcher"
                if verified else f"not verified: on aws/ebs the evaluator says {decision.decided_by}")
    device = ((case.instance or {}).get("root_device_name")) or "/dev/xvda"
    mapping = json.dumps([{"DeviceName": device, "Ebs": {"Encrypted": True, "KmsKeyId": "<usable-key-arn>"}}])
    explicit = [f"aws ec2 run-instances --region {case.region} --image-id {(case.instance or {}).get('image_id') or '<ami-id>'} "
                f"--block-device-mappings '{mapping}' ..."]
    return [Remediation("cli", f"ec2:ebs-default-kms-key-id ({case.region})", {"commands": commands, "files": {}},
                        verified, title="Reset the default EBS key to aws/ebs",
                        explanation=text("default-key", key=key), change_set="default-key", note=note),
            Remediation("cli", case.instance_id, {"commands": explicit, "files": {}}, False,
                        title="Or name a usable KmsKeyId in the launch", change_set="default-key-named",
                        note="not verified: the key to use is the analyst's choice"),
            Remediation("terraform", f"ec2:ebs-default-kms-key-id ({case.region})",
                        terraform("default-key", resource="ebs_default", key="<usable-customer-managed-key-arn>"),
                        False, title="Name a usable default EBS key: Terraform", change_set="default-key-named",
                        note="not verified: the key to use is the analyst's choice")]


def _aws_ebs_key_arn(case: Case) -> str:
    aliases = case.frames.aliases
    rows = aliases[aliases["alias_name"] == "alias/aws/ebs"]
    if len(rows) and isinstance(rows.iloc[0]["key_arn"], str):
        return str(rows.iloc[0]["key_arn"])
    return f"arn:aws:kms:{case.region}:{case.account_id}:key/00000000-0000-0000-0000-0000000aws0ebs"


def apply_remediation(policies: PolicySet, items: list[Remediation]) -> PolicySet:
    """The PolicySet with every policy document of these items put in place (for tests and the what-if editor)."""
    after = policies
    for item in items:
        if item.kind in ("iam-policy", "key-policy") and isinstance(item.document, dict) and item.layer:
            after = apply_change(after, item.layer, item.document, item.replaces, "kit-remediation")
    return after


__all__ = ["PolicyChange", "apply_remediation", "remediate"]


def _class_of(case: Case) -> str | None:
    """The launcher's class id (kit/diagnose/launchers.yaml), else its principal kind, for the CLI's wording."""
    launcher = case.launcher
    if launcher is None:
        return None
    return launcher.launcher_class.id if launcher.launcher_class else launcher.kind
