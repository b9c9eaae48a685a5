"""One verdict from the case's facts: a cause, who was refused by which layer, the key, how sure, and why.

Rules (contracts.md section 3, domain.md section 5):
- the state reason decides first for non-KMS causes; a user stop or a volume quota is never blamed on KMS;
- a KMS cause needs an encrypted volume's key plus CloudTrail, key state or the evaluator behind it;
- `confirmed` only with a tied CloudTrail KMS failure or the key's state; the evaluator alone gives `likely`
  (with a KMS-like state reason) or `possible`; missing evidence leads to `undetermined`, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kit import causes as cause_table
from kit.diagnose.authorization import Authorization
from kit.diagnose.case import Case, KeyUse
from kit.diagnose.findings import Confidence, FindingsGap, Verdict
from kit.diagnose.kms_events import KmsFailure
from kit.diagnose.lookalikes import Lookalike
from kit.diagnose.principal import Launcher, kind_label

NOT_LAUNCH = ("user-stop", "os-shutdown", "spot-interruption", "scheduled-retirement", "hibernation",
              "asg-health-replacement")
SUMMARY_FIELDS = ("principal", "principal_kind", "key", "key_kind", "key_state", "key_account", "account", "layer",
                  "reason", "lookalike", "deletion", "proof", "remedy")  # what a summary template of kit/causes.yaml may use


def _kms_causes() -> tuple[str, ...]:
    """The KMS causes (kit/causes.yaml kind kms), in table order."""
    return cause_table.causes_of_kind("kms")


def _key_state_causes() -> dict[str, str]:
    """KMS KeyState -> the cause it makes (kit/causes.yaml key_states)."""
    return {state: c.id for c in cause_table.causes().values() for state in c.key_states}


def _error_kind_causes() -> dict[str, str]:
    """CloudTrail KMS error kind -> the cause it makes (kit/causes.yaml kms_errors)."""
    return {kind: c.id for c in cause_table.causes().values() for kind in c.kms_errors}


@dataclass
class CrossCheck:
    """CloudTrail's refusing layer against the evaluator's."""

    cloudtrail: str | None  # denied_by the CloudTrail message names
    evaluator: str | None  # denied_by of the evaluator's decision
    agree: bool | None  # None when one side is missing
    detail: str


@dataclass
class Judgement:
    verdict: Verdict
    ruled_out: list[str]
    gaps: list[FindingsGap] = field(default_factory=list)
    authorization: Authorization | None = None
    failure: KmsFailure | None = None
    cross_check: CrossCheck | None = None


def decide(case: Case, lookalikes: dict[str, Lookalike]) -> Judgement:
    """The verdict for the case, with the diagnosis's own gaps (what it could not check)."""
    judgement = _decide(case, lookalikes)
    general = _general_gaps(case)
    judgement.gaps = general + [g for g in judgement.gaps if g not in general]
    return judgement


def _decide(case: Case, lookalikes: dict[str, Lookalike]) -> Judgement:
    sr = case.state_reason
    who = case.launcher.arn if case.launcher else None
    confirmed = [l for l in lookalikes.values() if l.status == "confirmed"]
    lookalike_out = [l.id for l in lookalikes.values() if l.status == "ruled-out"]
    if case.instance is None:
        return _undetermined(case, "describe-instances does not show the instance", lookalike_out,
                             [FindingsGap("ec2:DescribeInstances", "missing",
                                          "without the instance's state and state reason nothing can be decided",
                                          f"aws ec2 describe-instances --instance-ids {case.instance_id} --region {case.region}")])
    if sr.kind == "running":
        return Judgement(_verdict("no-failure", None, who, None, "confirmed", reason=sr.state or "running"),
                         _ruled_out_all_but("no-failure", lookalike_out))
    if sr.kind == "cause" and sr.cause:
        return Judgement(_verdict(sr.cause, None, who, None, "confirmed",
                                  reason=f"{sr.effective}: {sr.message or sr.meaning}"),
                         _ruled_out_all_but(sr.cause, lookalike_out))
    not_launch = [l for l in confirmed if l.id in NOT_LAUNCH]
    if sr.kind == "not-a-launch-failure" or (not_launch and sr.kind != "kms-candidate"):
        chosen = next((l for l in not_launch if l.id == sr.lookalike), not_launch[0] if not_launch else None)
        title = chosen.title if chosen else sr.meaning
        why = chosen.why if chosen else f"{sr.effective}: {sr.message or ''}"
        return Judgement(_verdict("not-a-launch-failure", None, who, None, "confirmed",
                                  lookalike=title.lower(), reason=why),
                         _ruled_out_all_but("not-a-launch-failure", lookalike_out))
    quota = [l for l in confirmed if l.id in cause_table.causes_of_kind("lookalike")]
    if quota and sr.kind != "kms-candidate":
        return Judgement(_verdict(quota[0].id, None, who, None, "confirmed", reason=quota[0].why),
                         _ruled_out_all_but(quota[0].id, lookalike_out))
    return _kms(case, lookalike_out)


# ---- KMS ------------------------------------------------------------------------------------------------

def _kms(case: Case, lookalike_out: list[str]) -> Judgement:
    sr = case.state_reason
    kms_like = sr.kind == "kms-candidate"
    key = case.suspect_key
    key_row = case.key(key) or {}
    failures = case.kms_failures
    failure = next((f for f in failures if f.key_arn == key), failures[0] if failures else None)
    auth = case.authorizations.get(key) if key else None
    launcher = case.launcher
    principal = launcher.arn if launcher else None
    use = next((u for u in case.key_uses if u.key_arn == key), None)
    gaps = _own_gaps(case, key, auth)
    fields = _fields(case, key, key_row, launcher, failure)
    ruled = list(lookalike_out)

    # 1. the key's state
    state_cause = _key_state_causes().get(key_row.get("key_state") or "")
    proof = f"describe-key shows KeyState {key_row.get('key_state')}." if state_cause else ""
    if not state_cause and failure and failure.error_kind in _error_kind_causes():
        state_cause = _error_kind_causes()[failure.error_kind]
        proof = f"CloudTrail: {failure.event_name} failed with {failure.error_code}."
    if not state_cause and key and not key_row and _describe_key_not_found(case, key):
        state_cause, proof = "kms-key-unusable", "describe-key answers NotFoundException."
    if state_cause:
        if failure and failure.error_kind in _error_kind_causes() and "CloudTrail" not in proof:
            proof += f" CloudTrail: {failure.event_name} failed with {failure.error_code}."
        confidence: Confidence = "confirmed" if (kms_like or failure) else "likely"
        cause = "ebs-default-key-unusable" if use and use.implicit_default else state_cause
        fields.update(proof=proof.strip(), reason=f"{(key_row.get('key_state') or 'unusable')}")
        ruled += [c for c in _kms_causes() if c != cause and c not in ("kms-grant-denied",)]
        if auth and auth.decision.allowed and auth.conclusive:
            ruled.append("kms-grant-denied")
        return Judgement(_verdict(cause, None, principal, key, confidence, **fields), _dedupe(ruled), gaps, auth,
                         failure, _cross_check(failure, auth))

    # 2. a policy refused EC2's request (or the instance's infrastructure role's Decrypt after the grant)
    denial = failure if failure and failure.error_kind == "access-denied" else None
    if denial is not None and denial.infrastructure:
        auth = case.infrastructure_authorizations.get(denial.event_id or "", auth)
    evaluator_denies = bool(auth and not auth.decision.allowed)
    cross = _cross_check(denial, auth)
    if denial or evaluator_denies:
        denied_by: str | None  # None unless the cause is kms-grant-denied
        denied_by = _denied_by(denial, auth)
        if denial:
            confidence = "confirmed" if (cross is None or cross.agree is not False) else "likely"
            if _inferred_layer(denial, auth):
                confidence = "likely"  # by elimination: AWS did not name the layer, the evidence lacks it
            proof = f"CloudTrail: EC2's {denial.event_name} for this instance failed with {denial.error_code}."
        else:
            assert auth is not None  # the evaluator denies
            confidence = "likely" if kms_like and launcher and launcher.confirmed else "possible"
            proof = f"The evaluator denies EC2's CreateGrant ({auth.decision.decided_by})."
            if case.cloudtrail_present and case.launch_event is not None:
                confidence = "possible"  # CloudTrail shows the launch but no KMS failure
        fields.update(proof=proof, layer=_layer_words(denied_by), remedy=_remedy_words(denied_by))
        cause = _denial_cause(case, key, key_row, launcher, use)
        if cause != "kms-grant-denied":
            denied_by = None
        fields["reason"] = "denied"
        ruled += [c.id for c in cause_table.causes().values() if c.key_states] if key_row.get(
            "key_state") == "Enabled" else []
        return Judgement(_verdict(cause, denied_by, principal, key, confidence, **fields), _dedupe(ruled), gaps,
                         auth, denial, cross)

    # 3. a cross-account key whose policy the evidence cannot show
    if kms_like and key and case.foreign_key(key) and (auth is None or "key-policy" in auth.unknown_layers):
        fields.update(proof="The key policy cannot be read from this account; no CloudTrail KMS failure was found.")
        return Judgement(_verdict("kms-cross-account-key", None, principal, key, "possible", **fields),
                         _dedupe(ruled), gaps, auth, None, cross)

    # 4. nothing points at KMS
    if key_row.get("key_state") == "Enabled" and auth and auth.decision.allowed and auth.conclusive:
        ruled += list(_kms_causes())
        reason = f"{sr.effective or 'no state reason'}; the volume keys are enabled and EC2's CreateGrant is allowed"
    elif case.encryption_known and not case.key_uses:
        ruled += list(_kms_causes())
        reason = f"{sr.effective or 'no state reason'}; no volume of the launch is encrypted"
    elif not key:
        reason = f"{sr.effective or 'no state reason'}; the evidence does not show which keys the volumes use"
    else:
        reason = f"{sr.effective or 'no state reason'}; the evidence cannot show whether the launcher may use key {key}"
    return _undetermined(case, reason, ruled, gaps, auth, principal, key)


def _denial_cause(case: Case, key: str | None, key_row: dict[str, Any], launcher: Launcher | None, use: KeyUse | None) -> str:
    # A service-linked role first: its own permissions cannot change, so its fix differs even cross-account
    # (a grant created for it); then a key of another account; then the implicitly picked default key.
    if launcher and launcher.kind == "service-linked-role" and key_row.get("key_manager") != "AWS":
        return "service-role-key-access"
    if key and case.foreign_key(key):
        return "kms-cross-account-key"
    if use and use.implicit_default:
        return "ebs-default-key-unusable"
    return "kms-grant-denied"


def _inferred_layer(denial: KmsFailure | None, auth: Authorization | None) -> str | None:
    """The refusing layer by elimination: CloudTrail shows a refusal without naming its layer, every layer the
    evidence shows allows, and exactly one layer could refuse unseen. None otherwise."""
    if denial is None or denial.denied_by != "unknown" or auth is None or auth.outcome != "unknown":
        return None
    unseen = auth.unseen_layers
    return unseen[0] if len(unseen) == 1 else None


def _denied_by(denial: KmsFailure | None, auth: Authorization | None) -> str:
    evaluator = auth.denied_by if auth and not auth.decision.allowed else None
    inferred = _inferred_layer(denial, auth)
    if inferred:
        return inferred
    if denial and denial.denied_by:
        if evaluator and evaluator in denial.agrees_with:
            return evaluator  # the evaluator is as right as CloudTrail and more precise
        return denial.denied_by if denial.denied_by != "unknown" or not evaluator else evaluator
    return evaluator or "unknown"


def _cross_check(denial: KmsFailure | None, auth: Authorization | None) -> CrossCheck | None:
    if denial is None and auth is None:
        return None
    cloudtrail = denial.denied_by if denial and denial.error_kind == "access-denied" else None
    evaluator = auth.denied_by if auth else None
    if denial is None or cloudtrail is None:
        what = "allows" if auth and auth.decision.allowed else f"denies ({evaluator})"
        return CrossCheck(None, evaluator, None, f"no CloudTrail denial to compare; the evaluator {what}")
    if auth is None:
        return CrossCheck(cloudtrail, None, None,
                          f"CloudTrail names {cloudtrail}; the evaluator could not run (missing principal or key)")
    if auth.decision.allowed:
        unseen = set(auth.unknown_layers) | {"session-policy"}  # session policies are never in the evidence
        explicit = cloudtrail == "explicit-deny" and bool({"key-policy", "identity-policy"} & set(auth.unknown_layers))
        if cloudtrail in unseen or explicit:
            return CrossCheck(cloudtrail, None, None,
                              f"CloudTrail names {cloudtrail}, a layer the evidence does not show: the evaluator "
                              "cannot confirm or contradict it")
        if cloudtrail == "unknown" and auth.unknown_layers:
            return CrossCheck(cloudtrail, None, None,
                              "CloudTrail does not name the refusing layer and every layer the evidence shows "
                              "allows: the refusal comes from one the evidence lacks (" +
                              ", ".join(auth.unseen_layers) + ")")
        note = " (with assumed layers: " + ", ".join(auth.unknown_layers) + ")" if auth.unknown_layers else ""
        return CrossCheck(cloudtrail, None, False,
                          f"CloudTrail names {cloudtrail}, but the evaluator allows the request{note}: "
                          "the evidence's policies differ from those AWS applied")
    agree = evaluator in denial.agrees_with
    verb = "agrees with" if agree else "disagrees with"
    return CrossCheck(cloudtrail, evaluator, agree, f"CloudTrail names {cloudtrail}; the evaluator ({evaluator}) {verb} it")


def _describe_key_not_found(case: Case, key: str) -> bool:
    return any("notfound" in g.error.lower() for g in case.gap_for("kms:DescribeKey"))


def _general_gaps(case: Case) -> list[FindingsGap]:
    gaps: list[FindingsGap] = []
    if not case.cloudtrail_present:
        gaps.append(FindingsGap("cloudtrail:LookupEvents", "missing",
                                "no CloudTrail records: the launcher and KMS's own refusal cannot be shown, "
                                "so no KMS cause can be confirmed by CloudTrail",
                                f"aws cloudtrail lookup-events --region {case.region} --lookup-attributes "
                                f"AttributeKey=ResourceName,AttributeValue={case.instance_id}"))
    elif case.launch_event is None:
        gaps.append(FindingsGap("cloudtrail:LookupEvents", "not-found",
                                "CloudTrail holds no StartInstances/RunInstances for the instance: the launcher is unknown",
                                f"aws cloudtrail lookup-events --region {case.region} --lookup-attributes "
                                f"AttributeKey=ResourceName,AttributeValue={case.instance_id}"))
    if case.launcher is None and case.instance is not None:
        gaps.append(FindingsGap("diagnosis:launching-principal", "unknown",
                                "the launching principal is unknown: EC2's CreateGrant cannot be evaluated"))
    return gaps


def _own_gaps(case: Case, key: str | None, auth: Authorization | None) -> list[FindingsGap]:
    gaps: list[FindingsGap] = []
    if key and case.key(key) is None:
        gaps.append(FindingsGap("kms:DescribeKey", "missing", f"the state and owner of key {key} are unknown",
                                f"aws kms describe-key --key-id {key}"))
    if auth:
        for bad in auth.malformed:
            gaps.append(FindingsGap(f"policy:{bad.name}", "malformed",
                                    f"{bad.name} is not a valid policy ({bad.problem}): the {bad.layer} is unknown "
                                    "to the evaluator (neither allow nor deny)",
                                    read_command(case, bad.layer, auth.request.resource, bad.name)))
        for layer in auth.unknown_layers:
            gaps.append(FindingsGap(f"diagnosis:{layer}", "unknown",
                                    f"the {layer} is not in the evidence (or not readable): the evaluation cannot "
                                    f"tell whether it allows EC2's request, so an allow is only 'allowed if the "
                                    f"{layer} allows'",
                                    read_command(case, layer, auth.request.resource)))
    return gaps


def read_command(case: Case, layer: str, key: str, policy_name: str | None = None) -> str:
    """The AWS CLI command that reads a policy layer (run it with a principal allowed to)."""
    region = key.split(":")[3] if key.count(":") >= 5 else case.region
    if layer == "key-policy":
        return f"aws kms get-key-policy --key-id {key} --policy-name default --region {region}"
    if layer == "scp":
        if policy_name and policy_name.startswith("scp:"):
            return f"aws organizations describe-policy --policy-id {policy_name.rsplit('/', 1)[-1]}"
        return (f"aws organizations list-policies-for-target --target-id {case.account_id or '<account-id>'} "
                "--filter SERVICE_CONTROL_POLICY")
    if layer == "session-policy":
        return (f"aws cloudtrail lookup-events --region {case.region} --lookup-attributes "
                "AttributeKey=EventName,AttributeValue=AssumeRole")
    return "aws iam get-account-authorization-details"


def _fields(case: Case, key: str | None, key_row: dict[str, Any], launcher: Launcher | None,
            failure: KmsFailure | None) -> dict[str, str]:
    manager = key_row.get("key_manager")
    deletion = key_row.get("deletion_date")
    return {
        "principal": launcher.arn if launcher else "the launching principal (unknown)",
        "principal_kind": kind_label(launcher.kind) if launcher else "unknown",
        "key": key or "(unknown key)",
        "key_kind": {"AWS": "AWS managed", "CUSTOMER": "customer managed"}.get(manager or "", "type unknown"),
        "key_state": key_row.get("key_state") or "state unknown",
        "key_account": case.key_account(key) or "unknown",
        "account": case.account_id or "unknown",
        "deletion": f" (deletion date {deletion})" if deletion else "",
        "layer": "a policy refused it",
        "reason": "",
        "lookalike": "",
        "proof": "",
    }


def _layer_words(denied_by: str) -> str:
    entry = cause_table.denied_by().get(denied_by)
    return entry.because if entry else denied_by


def _remedy_words(denied_by: str) -> str:
    entry = cause_table.denied_by().get(denied_by)
    return entry.remedy if entry else ""


def _undetermined(case: Case, reason: str, ruled: list[str], gaps: list[FindingsGap],
                  auth: Authorization | None = None, principal: str | None = None,
                  key: str | None = None) -> Judgement:
    return Judgement(_verdict("undetermined", None, principal, key, "possible", reason=reason), _dedupe(ruled),
                     gaps, auth, None, None)


def _verdict(cause: str, denied_by: str | None, principal_arn: str | None, key_arn: str | None,
             confidence: Confidence, **fields: str) -> Verdict:
    template = cause_table.cause(cause).summary
    values = {k: "" for k in SUMMARY_FIELDS}
    values.update(fields)
    summary = " ".join(template.format(**values).split())
    return Verdict(cause, denied_by, principal_arn, key_arn, confidence, summary)


def _ruled_out_all_but(cause: str, lookalike_out: list[str]) -> list[str]:
    """Every KMS cause is ruled out when a non-KMS reason decides, plus the ruled-out lookalikes."""
    return _dedupe([c for c in _kms_causes() if c != cause] + [l for l in lookalike_out if l != cause])


def _dedupe(items: list[str]) -> list[str]:
    """Causes and lookalike ids, each once, in order."""
    return [i for i in dict.fromkeys(items) if i]
