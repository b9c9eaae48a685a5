"""What the evidence could not show, said in the verdict: policy conditions that can never match (lint), a
trail that does not record KMS events, a denial logged only in another account's trail, and a key policy that
leaves nobody able to create EC2's grant when CloudTrail is missing.

`adjust(case, judgement) -> Judgement` runs after `verdict.decide`; it only adds sentences and gaps and lowers
confidence, except for the last rule, which turns `undetermined` into `kms-grant-denied` / `key-policy` (likely).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from kit.causes import cause
from kit.diagnose.case import Case
from kit.diagnose.findings import Confidence, FindingsGap
from kit.diagnose.verdict import Judgement
from kit.policy.lint import Finding, lint_policy
from kit.policy.matching import action_matches

KMS_SOURCE = "kms.amazonaws.com"
LOWER: dict[str, Confidence] = {"confirmed": "likely", "likely": "possible", "possible": "possible"}


def adjust(case: Case, judgement: Judgement) -> Judgement:
    """The judgement with what the evidence's completeness and the policies' lint change about it."""
    judgement = _no_grant_possible(case, judgement)
    judgement = _lint(case, judgement)
    judgement = _trail_coverage(case, judgement)
    return judgement


def _no_grant_possible(case: Case, judgement: Judgement) -> Judgement:
    """Without CloudTrail, a KMS-candidate failure whose key (enabled, customer managed, its policy read) lets
    nobody of the account create the grant except principals it names one by one, none of them the launcher
    when it is known: the key policy refuses, `likely`."""
    from kit.diagnose.verdict import _fields, _verdict

    verdict = judgement.verdict
    key = verdict.key_arn or case.suspect_key
    if verdict.cause != "undetermined" or case.cloudtrail_present or not key:
        return judgement
    if case.state_reason.kind != "kms-candidate":
        return judgement
    row = case.key(key) or {}
    if row.get("key_state") != "Enabled" or row.get("key_manager") != "CUSTOMER" or case.foreign_key(key):
        return judgement
    auth = judgement.authorization
    if auth is not None and auth.decision.allowed:
        return judgement
    if not nobody_may_create_grants(case, key):
        return judgement
    launcher = case.launcher
    fields = _fields(case, key, row, launcher, None)
    fields.update(layer="the key policy lets no principal of the account create grants except the ones it names, "
                        "and delegates nothing to IAM",
                  proof="Found from the key policy without CloudTrail (no KMS event in the evidence).",
                  reason="denied")
    new = _verdict("kms-grant-denied", "key-policy", launcher.arn if launcher else None, key, "likely", **fields)
    ruled = [c for c in judgement.ruled_out if c != "kms-grant-denied"]
    return replace(judgement, verdict=new, ruled_out=ruled)


# ---- lint ---------------------------------------------------------------------------------------------------

def explaining_findings(case: Case, judgement: Judgement) -> list[Finding]:
    """Lint findings in the refusing policies that explain the denial: an Allow for the refused action whose
    condition never matches, or a Deny for it whose negated condition then always applies."""
    auth = judgement.authorization
    if auth is None or judgement.verdict.denied_by is None and judgement.verdict.cause == "undetermined":
        return []
    action = auth.request.action
    key = auth.request.resource
    region = key.split(":")[3] if key.count(":") >= 5 else case.region
    policies = list(auth.policies.identity) + list(auth.policies.session_policies)
    policies += [p for level in auth.policies.scps for p in level]
    policies += [p for p in (auth.policies.boundary, auth.policies.resource_policy) if p is not None]
    out: list[Finding] = []
    for policy in policies:
        if policy.name.startswith("stand-in:"):
            continue
        for finding in lint_policy(policy.document, name=_policy_words(policy.name), region=region):
            negated = "not" in finding.operator.lower()
            explains = (finding.effect == "Allow" and not negated) or (finding.effect == "Deny" and negated)
            if explains and finding.covers(action):
                out.append(finding)
    return out


def _lint(case: Case, judgement: Judgement) -> Judgement:
    if judgement.verdict.cause == "undetermined" or judgement.authorization is None:
        return judgement
    if judgement.authorization.decision.allowed and judgement.failure is None:
        return judgement
    findings = explaining_findings(case, judgement)
    if not findings:
        return judgement
    sentence = " ".join(f"The {f.sentence()}." for f in findings[:3])
    summary = f"{judgement.verdict.summary} {sentence}"
    return replace(judgement, verdict=replace(judgement.verdict, summary=summary))


def _policy_words(name: str) -> str:
    kind, _, rest = name.partition(":")
    if name == "key-policy":
        return "key policy"
    return {"inline": "inline policy", "managed": "managed policy", "scp": "SCP", "boundary": "permissions boundary",
            "session": "session policy"}.get(kind, kind) + f" {rest.rsplit('/', 1)[-1]}" if rest else name


# ---- trail coverage -----------------------------------------------------------------------------------------

def trails_excluding_kms(case: Case) -> list[str]:
    """The trails in the evidence whose event selectors leave out KMS management events (an advanced selector
    with eventSource NotEquals kms.amazonaws.com, or ExcludeManagementEventSources holding it): CloudTrail
    evidence read from them cannot show EC2's KMS calls."""
    described = case.evidence.document("cloudtrail.describe-trails.json") or {}
    trails = [t for t in described.get("trailList") or [] if isinstance(t, dict)]
    excluding: list[str] = []
    recording: list[str] = []
    for trail in trails:
        name = str(trail.get("Name") or trail.get("TrailARN") or "")
        selectors = case.evidence.document(f"cloudtrail.get-event-selectors.{name}.json")
        if selectors is None:
            continue
        (excluding if _excludes_kms(selectors) else recording).append(name)
    return excluding


def _excludes_kms(selectors: dict[str, Any]) -> bool:
    for selector in selectors.get("EventSelectors") or []:
        if not isinstance(selector, dict):
            continue
        if selector.get("IncludeManagementEvents") is False:
            continue
        if KMS_SOURCE not in (selector.get("ExcludeManagementEventSources") or []):
            return False
        return True
    advanced = selectors.get("AdvancedEventSelectors") or []
    management = [s for s in advanced if isinstance(s, dict) and _field(s, "eventCategory", "Equals") == ["Management"]]
    if management:
        return all(KMS_SOURCE in (_field(s, "eventSource", "NotEquals") or []) for s in management)
    return bool(selectors.get("EventSelectors") or advanced)


def _field(selector: dict[str, Any], name: str, operator: str) -> list[str] | None:
    for entry in selector.get("FieldSelectors") or []:
        if isinstance(entry, dict) and entry.get("Field") == name:
            values = entry.get(operator)
            return [str(v) for v in values] if isinstance(values, list) else None
    return None


def _trail_coverage(case: Case, judgement: Judgement) -> Judgement:
    verdict = judgement.verdict
    gaps = list(judgement.gaps)
    excluding = trails_excluding_kms(case)
    kms_proof = judgement.failure is not None
    if excluding and not kms_proof and verdict.cause != "no-failure":
        names = ", ".join(excluding)
        gaps.append(FindingsGap(
            "cloudtrail:GetEventSelectors", "kms-events-excluded",
            f"the trail {names} excludes KMS management events (ExcludeManagementEventSources "
            f"{KMS_SOURCE}): no KMS failure in CloudTrail proves nothing",
            f"aws cloudtrail get-event-selectors --trail-name {excluding[0]} --region {case.region}"))
        sentence = (f" The trail {names} does not record KMS events, so CloudTrail cannot show EC2's KMS calls; "
                    "the verdict rests on the policies and the key's state.")
        auth = judgement.authorization
        launcher = case.launcher
        if auth is not None and not auth.decision.allowed and launcher is not None and launcher.confirmed:
            # "CloudTrail shows the launch but no KMS failure" proves nothing here: the evaluator's deny
            # for the launcher CloudTrail names is what the verdict rests on (likely, never confirmed)
            confidence: Confidence = "likely"
        else:
            confidence = LOWER[verdict.confidence] if verdict.cause != "undetermined" else verdict.confidence
        verdict = replace(verdict, summary=verdict.summary + sentence, confidence=confidence)
    key = verdict.key_arn
    if key and case.foreign_key(key) and not kms_proof and cause(verdict.cause).kind != "not-a-failure":
        owner = case.key_account(key)
        gaps.append(FindingsGap(
            "cloudtrail:LookupEvents", "denial-in-other-account",
            f"the key belongs to account {owner}: KMS logs a refusal of a cross-account call in the caller's "
            f"trail, and its own view of the key only in account {owner}'s trail, which this evidence does not hold",
            f"aws cloudtrail lookup-events --region {key.split(':')[3]} --lookup-attributes "
            f"AttributeKey=ResourceName,AttributeValue={key}  # run in account {owner}"))
        if verdict.confidence == "confirmed" and not cause(verdict.cause).key_states:  # a key state proves it
            verdict = replace(verdict, confidence="likely")
    if verdict is judgement.verdict and gaps == judgement.gaps:
        return judgement
    return replace(judgement, verdict=verdict, gaps=gaps)


def nobody_may_create_grants(case: Case, key: str) -> bool:
    """Whether the key policy (in the evidence) lets no principal of the instance's account create EC2's grant:
    no Allow statement for kms:CreateGrant naming the account (root or *) and no grant with CreateGrant, so
    only the principals it names one by one could; used when CloudTrail cannot name the launcher."""
    from kit.frames import key_policy_document

    document = key_policy_document(case.frames, key)
    if not isinstance(document, dict):
        return False
    account = case.account_id
    statements = document.get("Statement")
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if "NotAction" in statement or not any(isinstance(a, str) and action_matches(a, "kms:CreateGrant")
                                               for a in actions):
            continue
        principal = statement.get("Principal")
        named = principal.get("AWS") if isinstance(principal, dict) else principal
        named = named if isinstance(named, list) else [named]
        if any(n in ("*", account, f"arn:aws:iam::{account}:root") for n in named):
            return False
    grants = case.frames.grants
    if len(grants) and "operations" in grants:
        for _, row in grants[grants["key_arn"] == key].iterrows() if "key_arn" in grants else []:
            if "CreateGrant" in json.dumps(row.get("operations"), default=str):
                return False
    return True
