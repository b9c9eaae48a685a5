"""Remediation: for each cause the smallest change that fixes it, verified with the evaluator, never applied.

Every item carries `verified`: true only when the evaluator's what_if turns the failing request into an
allow with the item's change set, nothing broader than needed is granted (what_if's probes, no kms:*,
no Resource "*" in identity-side statements) and no policy layer of the decision was missing from the
evidence. Key-state fixes are verified when the evaluator allows the request once the key is usable.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from kit import causes as cause_table
from kit.diagnose.authorization import Authorization, without_modelled_grant
from kit.diagnose.case import Case
from kit.diagnose.findings import Remediation, RemediationKind
from kit.diagnose.metadata import load_data
from kit.diagnose.remediation.changes import PolicyChange, apply_change, fix_policies
from kit.diagnose.remediation.render import cli, policy_cli, policy_terraform, terraform, text
from kit.diagnose.remediation.verify import aws_ebs_policy, verify
from kit.diagnose.verdict import Judgement, read_command
from kit.policy import PolicySet, Request, evaluate


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
        items += _grant_for_service_role(case, key)
    elif cause in policy_causes() and auth is not None and not auth.decision.allowed:
        items += _policies(case, judgement, key_row)
    elif key and cause != "kms-cross-account-key" and _refused_by_an_unseen_layer(judgement):
        items += _unseen_layers(case, judgement, key, key_row)
    elif verdict.denied_by == "session-policy" and key:
        items += _session_policy(case, key)
    if cause == "kms-cross-account-key":
        items += _cross_account(case, key, key_row, auth)
    if cause == "ebs-default-key-unusable":
        items += _default_key(case, key, auth)
    return items


# ---- policies --------------------------------------------------------------------------------------------

def _policies(case: Case, judgement: Judgement, key_row: dict[str, Any]) -> list[Remediation]:
    auth = judgement.authorization
    if auth is None:
        return []
    launcher = case.launcher
    new_volumes = bool(case.launch_event and case.launch_event.get("event_name") == "RunInstances") or bool(
        (case.instance or {}).get("autoscaling_group"))
    changes, after = fix_policies(auth.request, auth.policies, principal_kind=launcher.kind if launcher else "unknown",
                                  key_manager=key_row.get("key_manager"), new_volumes=new_volumes)
    ok, note = verify(auth, changes, after, new_volumes=new_volumes)
    changes = [replace(c, document=without_modelled_grant(c.document)) if c.layer == "key-policy" and c.document
               else c for c in changes]
    items: list[Remediation] = []
    for change in changes:
        if not change.possible or change.document is None:  # the same: no document when impossible
            items.append(Remediation("cli", change.target, {"commands": [], "files": {}}, False,
                                     title=f"{change.layer}: cannot be changed by a policy edit",
                                     explanation=text(change.text, key=auth.request.resource,
                                                      principal=auth.request.principal_arn),
                                     change_set="policy", note=note))
            continue
        kind: RemediationKind = "key-policy" if change.layer == "key-policy" else "iam-policy"
        explanation = text(change.text, principal=auth.request.principal_arn, target=change.target,
                           statement=change.statement or "", key=auth.request.resource)
        title = {"identity-policy": "IAM policy for the launching principal", "key-policy": "Key policy",
                 "permissions-boundary": "Permissions boundary", "scp": "Service control policy",
                 "session-policy": "Session policy"}[change.layer]
        common: dict[str, Any] = dict(change_set="policy", note=note, layer=change.layer, replaces=change.replaces)
        items.append(Remediation(kind, change.target, change.document, ok, title=title, explanation=explanation,
                                 **common))
        items.append(Remediation("cli", change.target, policy_cli(change, case.region), ok,
                                 title=f"{title}: AWS CLI", **common))
        items.append(Remediation("terraform", change.target, policy_terraform(change, auth.request.principal_arn), ok,
                                 title=f"{title}: Terraform", **common))
    return items


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
            change = PolicyChange("identity-policy", principal, document, None, "identity-allow",
                                  policy_name=load_data("remediation.yaml")["names"]["iam_policy"])
            items.append(Remediation("iam-policy", principal, document, False,
                                     title="IAM policy for the launching principal (its policies are not in the "
                                           "evidence)", explanation=explanation, **common))
            items.append(Remediation("cli", principal, policy_cli(change, case.region), False,
                                     title="IAM policy for the launching principal: AWS CLI", **common))
            items.append(Remediation("terraform", principal, policy_terraform(change, principal), False,
                                     title="IAM policy for the launching principal: Terraform", **common))
        elif layer == "session-policy":
            items += _session_policy(case, key)
        elif layer in ("scp", "permissions-boundary"):
            title = {"scp": "Service control policy", "permissions-boundary": "Permissions boundary"}[layer]
            items.append(Remediation("cli", principal, {"commands": [read], "files": {
                "statement.json": scoped_identity_statement(key)}}, False,
                title=f"{title} (not in the evidence): read it, then add the scoped statement",
                explanation=explanation, **common))
    return items


def _session_policy(case: Case, key: str) -> list[Remediation]:
    """Session policies are not in the evidence: propose the statement the next session's policy needs."""
    from kit.diagnose.remediation.changes import scoped_identity_statement

    launcher = case.launcher
    role = launcher.arn if launcher else "<role-arn>"
    document = {"Version": "2012-10-17", "Statement": [scoped_identity_statement(key)]}
    command = (f"aws sts assume-role --role-arn {role} --role-session-name <session-name> "
               "--policy file://session-policy.json")
    return [Remediation("cli", role, {"commands": [command], "files": {"session-policy.json": document}}, False,
                        title="Session policy: include the scoped CreateGrant statement",
                        explanation=text("session-policy"), change_set="session-policy",
                        note="not verified: session policies are not in the evidence; merge this statement into "
                             "the session policy the workflow passes")]


def _grant_for_service_role(case: Case, key: str) -> list[Remediation]:
    """Cross-account, a service-linked role gets the key through a grant a person of its account creates
    (no kms:GrantIsForAWSResource condition: a person, not a service, creates it)."""
    launcher = case.launcher
    role = launcher.arn if launcher else "<service-linked-role-arn>"
    owner = case.key_account(key)
    account = case.account_id or "<account-id>"
    operations = ["Decrypt", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo", "CreateGrant",
                  "DescribeKey"]
    note = ("not verified: the evaluator does not model grants; the person running create-grant needs "
            "kms:CreateGrant on the key in IAM and in the key policy of account " + str(owner))
    region = key.split(":")[3]
    grant = {"KeyId": key, "GranteePrincipal": role, "Operations": operations}
    key_side = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowAccountToCreateGrantsForItsServiceRoles", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": ["kms:CreateGrant", "kms:DescribeKey"],
         "Resource": "*"}]}
    caller_side = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowCreateGrantForServiceRole", "Effect": "Allow", "Action": "kms:CreateGrant", "Resource": key,
         "Condition": {"StringEquals": {"kms:GranteePrincipal": role}}}]}
    common = dict(change_set="service-role-grant", note=note)
    return [
        Remediation("key-policy", key, key_side, False, title=f"Key policy in account {owner}: let {account} create grants",
                    explanation=text("grant-for-slr", principal=role, account=account), layer="key-policy", **common),
        Remediation("iam-policy", f"arn:aws:iam::{account}:root", caller_side, False,
                    title="IAM policy for the person who creates the grant", layer="identity-policy", **common),
        Remediation("kms-grant", role, grant, False, title="Grant for the service-linked role",
                    explanation=text("grant-for-slr", principal=role, account=account), **common),
        Remediation("cli", role, {"commands": [cli("create-grant", key=key, grantee=role, operations=" ".join(operations),
                                                   region=region)], "files": {}}, False,
                    title="Grant for the service-linked role: AWS CLI", **common),
        Remediation("terraform", role, terraform("grant", resource="service_role", name="service-linked-role-ebs",
                                                 key=key, grantee=role, operations=json.dumps(operations)), False,
                    title="Grant for the service-linked role: Terraform", **common),
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
        return [Remediation("cli", key, {"commands": commands, "files": {}}, allowed, title="Import the key material",
                            explanation=text("key-unusable", key_state=state, how="import the key material again"),
                            change_set="key-state", note=note)]
    if state == "Unavailable":
        commands = [cli("connect-key-store", store="<custom-key-store-id>", region=region), start]
        return [Remediation("cli", key, {"commands": commands, "files": {}}, allowed,
                            title="Reconnect the custom key store",
                            explanation=text("key-unusable", key_state=state, how="reconnect its custom key store"),
                            change_set="key-state", note=note)]
    return [Remediation("cli", key, {"commands": [], "files": {}}, False, title="The key is gone",
                        explanation=text("key-gone"), change_set="key-state",
                        note="nothing can make a deleted key usable")]


# ---- cross-account and AMIs ------------------------------------------------------------------------------

def _cross_account(case: Case, key: str | None, key_row: dict[str, Any], auth: Authorization | None) -> list[Remediation]:
    items: list[Remediation] = []
    owner = case.key_account(key)
    launcher = case.launcher
    if auth is not None and "key-policy" in auth.unknown_layers and launcher is not None and key:
        from kit.diagnose.remediation.changes import key_policy_statements

        statements = key_policy_statements(launcher.arn, key.split(":")[3], launcher.account_id,
                                           service_linked=launcher.kind == "service-linked-role",
                                           new_volumes=bool(case.launch_event and
                                                            case.launch_event.get("event_name") == "RunInstances"))
        document = {"Version": "2012-10-17", "Statement": statements}
        items.append(Remediation("key-policy", key, document, False, title=f"Key policy in account {owner}: add",
                                 explanation=text("cross-account-key-side", key_account=owner),
                                 change_set="policy", note="the key policy is not readable from this account",
                                 layer="key-policy"))
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
