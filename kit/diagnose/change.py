"""What changed (contracts.md section 3a): the one recorded change that turned the launch from working to failing,
chosen by the evaluator, and the last launch that still worked.

The state the failing request was decided in is the evidence's (as collected), rolled back change by change,
latest first: first the changes after the failure (they never count), then each earlier change that touches
the request (kit.diagnose.change_candidates.touches). A change is named when, with the state before it, the
request is allowed, and with the state after it, denied (`before`/`after` hold the changed document or value).
A MoveAccount is rolled back by putting the account under its source parent again (that parent's SCP chain,
read in the management account and rolled back to the move by its SCP changes since, above the account's own
SCPs), only when the move put the account under the parent above it at that point of the walk; the target of
each level is kept (Situation.chain), so an SCP change to a target not above the account then changes nothing.
An EnablePolicyType is walked past (enabling SCPs attaches FullAWSAccess everywhere: it cannot by itself deny).
Where the evidence lacks the state before a change, the walk stops there: that change is named (`before`
None) only when its effect is certain from what it did (the Region's default EBS key switched to the failing
key, encryption by default turned on for an implicitly encrypted volume), or when the same request worked
after the last recorded state and before it: the last success (the launcher's CreateGrant on the same key,
succeeded) is earlier than that change and no other change touching the request lies between them, while the
state after it denies (a key policy rewritten once in the look-back, its earlier document never recorded);
otherwise nothing is named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from kit.causes import causes_of_kind
from kit.diagnose.change_candidates import ORIGINS, Candidate, Subject, candidates, touches
from kit.aws_ids import PARENT_ID
from kit.diagnose.change_rollback import move_back, rollback
from kit.frames.iam import organization_chain, policy_document
from kit.frames.timestamps import to_utc
from kit.policy import Policy, PolicySet, evaluate

if TYPE_CHECKING:
    from kit.diagnose.case import Case
    from kit.diagnose.findings import Verdict
    from kit.evidence import Evidence

USABLE = "Enabled"
# a key policy that refuses nothing: what the other layers decide alone (kit.diagnose.change._worked_just_before)
OPEN_KEY_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},
                                                          "Action": "kms:*", "Resource": "*"}]}
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# the CloudTrail reads whose gaps leave the look-back incomplete (kit.diagnose.change._lookback_incomplete)
LOOKBACK_READS = {"cloudtrail:lookupevents", "cloudtrail:log-files", "cloudtrail:log-file", "s3:getobject",
                  "athena:startqueryexecution", "athena:getqueryresults", "athena:getqueryexecution"}
NOT_MODELLED = ("grant", "launch-configuration")  # listed as other changes, never named
STATEMENT_LABEL = re.compile(r'(?P<policy>\S+) Statement\[(?P<index>\d+)\](?: "(?P<sid>[^"]*)")?')
STATE_BEFORE = {"DisableKey": "Enabled", "ScheduleKeyDeletion": "Enabled", "EnableKey": "Disabled",
                "CancelKeyDeletion": "PendingDeletion"}


@dataclass(frozen=True)
class Situation:
    """The state the request is decided in: its policies and the key's state."""

    policies: PolicySet
    key_state: str
    chain: tuple[str, ...] | None = None  # the target (root, OUs, account) of each SCP level; None: not known


@dataclass
class ChangeAnalysis:
    """The named change (findings' `verdict.change`), the last success, and every other recorded change."""

    change: dict[str, Any] | None = None
    last_success: dict[str, Any] | None = None
    others: list[dict[str, Any]] = field(default_factory=list)
    mattered: dict[str, Any] | None = None  # the statement that decided, before or after the change
    failure_time: str | None = None


def what_changed(case: Case, verdict: Verdict) -> ChangeAnalysis:
    """The change behind the verdict, if the evidence shows one; the last success; the other changes."""
    analysis = ChangeAnalysis()
    failure = _failure_time(case, verdict.key_arn)
    analysis.failure_time = failure.strftime("%Y-%m-%dT%H:%M:%SZ") if failure is not None else None
    launcher = case.launcher
    if failure is not None and launcher is not None and verdict.key_arn:
        analysis.last_success = last_success(case.events, launcher.arn, verdict.key_arn, case.instance_id, failure)
    every = candidates(case.events)
    named: Candidate | None = None
    subject = _subject(case, verdict)
    auth = case.authorizations.get(verdict.key_arn or "")
    if (failure is not None and subject is not None and auth is not None
            and verdict.cause in causes_of_kind("kms")):
        relevant = [c for c in every if touches(c, subject)]
        worked = to_utc(_worked_at(analysis.last_success))
        now = Situation(auth.policies, _key_state(case, subject.key_arn), _chain_now(case, auth.policies))
        named, before, after, mattered = _walk(case, subject, relevant, every, failure, now, auth.request, worked)
        if named is not None:
            analysis.change = _describe(named, before, after, verdict, auth.request.action,
                                        worked=_worked_at(analysis.last_success) if before is None and
                                        not _certain(named, subject) else None)
            analysis.change.update(_state_now(case, relevant, every, failure, now, auth.request))
            analysis.change["rollback"] = rollback(
                named, before=_replaced_document(named, before, every),
                previous_version=_previous_version(case, named, every))
            analysis.mattered = mattered
    for change in every:
        if named is not None and change.event_id == named.event_id:
            continue
        analysis.others.append(_other(change, failure, subject, named))
    return analysis


# ---- the walk ---------------------------------------------------------------------------------------------

def _walk(case: Case, subject: Subject, relevant: list[Candidate], every: list[Candidate], failure: pd.Timestamp,
          now: Situation, request: Any, worked: pd.Timestamp | None = None
          ) -> tuple[Candidate | None, Any, Any, dict[str, Any] | None]:
    """The change that turned the request from allowed to denied (with its before/after values and the statement
    that decided), rolling back from the collected state, latest change first. `worked`: when the same request
    last succeeded (the last success), which stands for the state before a change the evidence cannot undo."""
    situation: Situation | None = now
    for change in reversed([c for c in relevant if c.event_time >= failure]):
        situation = _undo(case, change, situation, every) if situation else None
    if situation is None or _allowed(situation, request):
        return None, None, None, None  # the state at the failure cannot be rebuilt, or does not deny
    for change in reversed([c for c in relevant if c.event_time < failure and c.event_name not in ORIGINS]):
        after = _after(case, change, situation)
        before = _undo(case, change, after, every)
        if before is None:
            if _certain(change, subject) or (_worked_just_before(change, relevant, worked, after, request)
                                             and _refused_only_by(change, after, request)
                                             and not _lookback_incomplete(case)):
                return change, None, _value(change, after, case), None
            return None, None, None, None
        if _allowed(before, request) and not _allowed(after, request):
            return change, _value(change, before, case), _value(change, after, case), _mattered(before, after, request)
        situation = before
    return None, None, None, None


def _refused_only_by(change: Candidate, after: Situation, request: Any) -> bool:
    """The request is denied in `after`, and allowed once what `change` touched (the key's state, the key policy,
    that SCP, that identity policy, the boundary) lets everything through: the refusal comes from what it
    changed and from nothing else. A change is named from the last success alone only then."""
    if _allowed(after, request):
        return False
    label = (f"managed:{change.param('policyArn')}" if change.param("policyArn")
             else f"inline:{change.param('policyName')}" if change.param("policyName") else None)
    if change.layer == "key-state":
        opened = replace(after, key_state=USABLE)
    elif change.layer == "key-policy":
        opened = _with(after, resource=Policy(OPEN_KEY_POLICY, "key-policy"))
    elif change.layer == "scp" and change.policy_id():
        opened = _with_scp(after, str(change.policy_id()), ALLOW_ALL)
    elif change.layer == "identity-policy" and label:
        touched = {p.name for p in after.policies.identity if _touched(p.name, change, label)}
        opened = (_with(after, identity=[Policy(ALLOW_ALL, p.name) if p.name in touched else p
                                         for p in after.policies.identity])
                  if touched else _with_identity(after, label, ALLOW_ALL))
    elif change.layer == "permissions-boundary":
        opened = _with(after, boundary=Policy(ALLOW_ALL, "permissions-boundary"))
    else:
        return False
    return _allowed(opened, request)


def _touched(name: str, change: Candidate, label: str) -> bool:
    """Whether the identity policy labelled `name` is the one `change` touched: that label, the same managed
    policy attached through a group (`group-managed:G/<arn>`), or that group's inline policy."""
    arn, group = change.param("policyArn"), change.param("groupName")
    if name == label or (arn and name.startswith("group-managed:") and name.endswith("/" + str(arn))):
        return True
    return bool(group and name == f"group-inline:{group}/{change.param('policyName')}")


def _lookback_incomplete(case: Case) -> bool:
    """A CloudTrail read was cut short or refused (a look-up, a log file, an archive budget, an Athena query;
    the management account's unread history apart, which only SCP changes need): "no other change in between"
    cannot be said. Over-cautious by design: a gap of the incident's own reads counts too."""
    return any(g.error != "ManagementAccountNotRead"
               and (g.call.lower() in LOOKBACK_READS or g.impact.startswith("The look-back for changes"))
               for g in case.evidence.gaps)


def _allowed(situation: Situation, request: Any) -> bool:
    return situation.key_state == USABLE and evaluate(request, situation.policies).allowed


def _mattered(before: Situation, after: Situation, request: Any) -> dict[str, Any] | None:
    """The statement that decided: the explicit Deny after the change, else the Allow before it."""
    denied = evaluate(request, after.policies)
    allowed = evaluate(request, before.policies)
    decision = denied if denied.explicit else allowed
    if not decision.statement:
        return None
    labels = [{"policy": m["policy"], "index": int(m["index"]), "sid": m["sid"]}
              for m in STATEMENT_LABEL.finditer(decision.statement)]
    return {"statement": decision.statement, "side": "after" if decision is denied else "before",
            "layer": decision.layer, "statements": labels}


def _certain(change: Candidate, subject: Subject) -> bool:
    """A change whose effect is certain from what it did, even without the state before it."""
    if change.layer != "ebs-default" or not subject.implicit_default_key:
        return False
    if change.event_name == "ModifyEbsDefaultKmsKeyId":
        ref = change.key_ref() or ""
        return ref == subject.key_arn or ref == subject.key_arn.rsplit("/", 1)[-1]
    return change.event_name == "EnableEbsEncryptionByDefault"


def _state_now(case: Case, relevant: list[Candidate], every: list[Candidate], failure: pd.Timestamp,
               now: Situation, request: Any) -> dict[str, Any]:
    """Whether the request is still denied in the state as collected (`denied_now`), and when it is allowed
    again, the change after the failure that allowed it (`undone_by`: the latest one whose state before
    denies it; None when the evidence cannot tell which)."""
    if not _allowed(now, request):
        return {"denied_now": True, "undone_by": None}
    situation: Situation | None = now
    for change in reversed([c for c in relevant if c.event_time >= failure]):
        before = _undo(case, change, situation, every) if situation else None
        if before is None:
            break
        if not _allowed(before, request):
            return {"denied_now": False, "undone_by": {
                "event_id": change.event_id, "event_name": change.event_name, "event_time": change.time_text,
                "principal_arn": change.principal_arn, "layer": change.layer}}
        situation = before
    return {"denied_now": False, "undone_by": None}


def _replaced_document(change: Candidate, before: Any, every: list[Candidate]) -> dict[str, Any] | None:
    """The document `change` replaced, for its rollback: the key policy or the inline policy before it (findings'
    `before`), or an SCP's content before an UpdatePolicy (findings' `before` holds the whole SCP chain)."""
    if change.event_name == "UpdatePolicy":
        return _scp_content_before(change, [c for c in every if c.event_time < change.event_time])
    if change.layer in ("key-policy", "identity-policy") and isinstance(before, dict):
        return before
    return None


def _previous_version(case: Case, change: Candidate, every: list[Candidate]) -> str | None:
    """The managed policy version that was the default before a CreatePolicyVersion (set as default): the
    version the latest earlier recorded SetDefaultPolicyVersion or CreatePolicyVersion (set as default) made the
    default, else the only version older than the new one; None when the evidence cannot tell which."""
    if change.event_name != "CreatePolicyVersion" or not _true(change.param("setAsDefault")):
        return None
    arn = change.param("policyArn")
    made = _version_made(change)
    policy = _managed_policy(case, str(arn))
    if policy is None or not made:
        return None
    listed = [str(v.get("VersionId")) for v in policy.get("PolicyVersionList") or [] if isinstance(v, dict)]
    for earlier in reversed([c for c in every if c.event_time < change.event_time and c.param("policyArn") == arn]):
        recorded = (str(earlier.param("versionId") or "") if earlier.event_name == "SetDefaultPolicyVersion" else
                    _version_made(earlier) if earlier.event_name == "CreatePolicyVersion"
                    and _true(earlier.param("setAsDefault")) else "")
        if recorded:
            return recorded if recorded in listed else None  # deleted since: no version to go back to
    older = [v for v in listed if _version(v) < _version(made)]
    return older[0] if len(older) == 1 else None


def _version_made(change: Candidate) -> str:
    """The version id a CreatePolicyVersion made (its response's policyVersion.versionId), "" when not recorded."""
    made = change.response.get("policyVersion") if isinstance(change.response, dict) else None
    return str(made.get("versionId") or "") if isinstance(made, dict) else ""


def _worked_just_before(change: Candidate, relevant: list[Candidate], worked: pd.Timestamp | None,
                        after: Situation, request: Any) -> bool:
    """The same request succeeded before the change and nothing in between can have refused it, so the state
    before the change allowed it, though the evidence does not hold that state's documents. In between, only
    changes to service control policies may lie, and only when the change is to the key policy and the
    request, with the key policy after it replaced by one that allows everything, is allowed: SCPs are a
    ceiling of their own (an AND with every other layer), so they let the request through before the change
    as they do after it, and every other layer is as it was at the last success."""
    if worked is None or worked >= change.event_time:
        return False
    between = [c for c in relevant if c.event_name not in ORIGINS and c.event_id != change.event_id
               and worked < c.event_time <= change.event_time]
    if not between:
        return True
    if change.event_name != "PutKeyPolicy" or any(c.layer != "scp" for c in between):
        return False
    return _allowed(_with(after, resource=Policy(OPEN_KEY_POLICY, "key-policy")), request)


def _worked_at(success: dict[str, Any] | None) -> str | None:
    """When the request last worked, as the last success records it: its CreateGrant's time (its launch's
    when that is not there); None when there is none."""
    text = (success or {}).get("grant_time") or (success or {}).get("event_time")
    return str(text) if text else None


def _after(case: Case, change: Candidate, situation: Situation) -> Situation:
    """The state right after the change: the document the call itself set, where it carries one."""
    document = None
    if change.event_name == "PutKeyPolicy":
        document = change.document("policy")
        if document is not None:
            return _with(situation, resource=Policy(document, "key-policy"))
    if change.event_name in ("PutRolePolicy", "PutUserPolicy"):
        document = change.document("policyDocument")
        if document is not None:
            return _with_identity(situation, f"inline:{change.param('policyName')}", document)
    if change.event_name == "CreatePolicyVersion" and _true(change.param("setAsDefault")):
        document = change.document("policyDocument")
        if document is not None:
            return _with_identity(situation, f"managed:{change.param('policyArn')}", document)
    if change.event_name == "UpdatePolicy":
        document = change.document("content")
        if document is not None:
            return _with_scp(situation, str(change.param("policyId")), document)
    return situation


def _undo(case: Case, change: Candidate, situation: Situation, every: list[Candidate]) -> Situation | None:
    """The state just before the change, or None when the evidence does not hold it."""
    name = change.event_name
    earlier = [c for c in every if c.event_time < change.event_time]
    if change.layer in NOT_MODELLED:
        return situation  # the evaluator does not model grants or launch templates: no effect it can show
    if name in STATE_BEFORE:
        return replace(situation, key_state=STATE_BEFORE[name])
    if name == "PutKeyPolicy":
        document = _previous_key_policy(change, earlier, case)
        return _with(situation, resource=Policy(document, "key-policy")) if document else None
    if name in ("AttachRolePolicy", "AttachUserPolicy"):
        label = f"managed:{change.param('policyArn')}"
        return _with(situation, identity=[p for p in situation.policies.identity if p.name != label])
    if name in ("DetachRolePolicy", "DetachUserPolicy"):
        arn = str(change.param("policyArn"))
        document = _managed_document(case, arn)
        return _with_identity(situation, f"managed:{arn}", document) if document else None
    if name in ("PutRolePolicy", "PutUserPolicy", "DeleteRolePolicy", "DeleteUserPolicy"):
        label = f"inline:{change.param('policyName')}"
        previous = [c for c in earlier if c.event_name in ("PutRolePolicy", "PutUserPolicy")
                    and c.param("policyName") == change.param("policyName")
                    and c.param("roleName", "userName") == change.param("roleName", "userName")]
        if previous and previous[-1].document("policyDocument"):
            return _with_identity(situation, label, previous[-1].document("policyDocument") or {})
        return None
    if name == "CreatePolicyVersion":
        if not _true(change.param("setAsDefault")):
            return situation
        arn = str(change.param("policyArn"))
        previous_default = _previous_version(case, change, every)
        document = _managed_document(case, arn, version=previous_default) if previous_default else None
        return _with_identity(situation, f"managed:{arn}", document) if document else None
    if name in ("PutRolePermissionsBoundary", "PutUserPermissionsBoundary"):
        previous = [c for c in earlier if c.layer == "permissions-boundary"
                    and c.param("roleName", "userName") == change.param("roleName", "userName")]
        if not previous:
            return None
        if previous[-1].event_name.startswith("Delete"):
            return _with(situation, boundary=None)
        document = _managed_document(case, str(previous[-1].param("permissionsBoundary")))
        return _with(situation, boundary=Policy(document, f"boundary:{previous[-1].param('permissionsBoundary')}")) \
            if document else None
    if name == "AttachPolicy":  # before it, the chain without that SCP on that target
        policy_id, target = str(change.policy_id()), change.param("targetId")
        return _with(situation, scps=[[p for p in level if not _is_scp(p, policy_id, target)]
                                      for level in situation.policies.scps])
    if name == "DetachPolicy":  # before it, the chain with that SCP on that target again
        return _reattach(case, change, situation, earlier)
    if name == "UpdatePolicy":
        document = _scp_content_before(change, earlier)
        return _with_scp(situation, str(change.policy_id()), document) if document else None
    if name == "MoveAccount":  # before it, the source parent's chain above the account's own SCPs
        return _moved_back(case, change, situation, every)
    if name == "EnablePolicyType":  # enabling SCPs attaches FullAWSAccess everywhere: it cannot deny by itself
        return situation
    return None


# ---- documents the evidence holds ---------------------------------------------------------------------------

# AWS's managed SCP, attached to every root, OU and account when SCPs are enabled: its content never changes.
FULL_AWS_ACCESS = ("p-FullAWSAccess", {"Version": "2012-10-17",
                                       "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def _is_scp(policy: Policy, policy_id: str, target: Any) -> bool:
    """Whether `policy` (labelled scp:<target>/<policy id>) is that SCP on that target (any target if None)."""
    if target is None:
        return policy.name.endswith("/" + policy_id)
    return policy.name == f"scp:{target}/{policy_id}"


def _scp_content_before(change: Candidate, earlier: list[Candidate]) -> dict[str, Any] | None:
    """The SCP's content just before `change`: from the latest earlier CreatePolicy/UpdatePolicy that set it."""
    policy_id = change.policy_id()
    previous = [c for c in earlier if c.layer == "scp" and c.event_name in ("UpdatePolicy", "CreatePolicy")
                and c.policy_id() == policy_id and c.document("content")]
    return previous[-1].document("content") if previous else None


def _scp_document(case: Case, policy_id: str, earlier: list[Candidate], change: Candidate) -> dict[str, Any] | None:
    """A detached SCP's content: the latest CreatePolicy/UpdatePolicy before the detach, else the policy as
    DescribePolicy read it (content is kept when detached), else FullAWSAccess's fixed document."""
    document = _scp_content_before(change, earlier)
    if document is not None:
        return document
    described = case.evidence.document(f"organizations.describe-policy.{policy_id}.json") or {}
    content = (described.get("Policy") or {}).get("Content")
    if isinstance(content, str):
        import json

        try:
            parsed = json.loads(content)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
    return dict(FULL_AWS_ACCESS[1]) if policy_id == FULL_AWS_ACCESS[0] else None


def _reattach(case: Case, change: Candidate, situation: Situation, earlier: list[Candidate]) -> Situation | None:
    """The state before a DetachPolicy: the SCP back on its target's level (None when the evidence holds
    neither the SCP's content nor where its target sits in the chain)."""
    policy_id, target = change.policy_id(), change.param("targetId")
    if not policy_id or not target:
        return None
    if situation.chain is not None and str(target) not in situation.chain:
        return situation  # a target not above the account at that point (before a move): no effect on it
    document = _scp_document(case, policy_id, earlier, change)
    level = _target_level(case, situation, str(target))
    if document is None or level is None:
        return None
    scps = [list(each) for each in situation.policies.scps]
    scps[level] = [p for p in scps[level] if not _is_scp(p, policy_id, target)] + [
        Policy(document, f"scp:{target}/{policy_id}")]
    return _with(situation, scps=scps)


def _moved_back(case: Case, change: Candidate, situation: Situation, every: list[Candidate]) -> Situation | None:
    """The state before a MoveAccount: the SCPs of the source parent and of each of its ancestors up to the root
    (root first), as they were at the move, then the account's own level as it is at that point of the walk.
    Levels of targets still above the account keep the walk's state; those of the chain it left are read in the
    management account (kit.collect.change_lookups.move_sources) and their SCP changes since the move undone
    (`_left_chain_at_move`). None when the evidence lacks any of them, or when the move did not put the account
    under the parent above it at that point (its destinationParentId)."""
    account, source = change.param("accountId"), change.param("sourceParentId")
    destination = change.param("destinationParentId")
    if not account or not source or not destination:
        return None
    level = _target_level(case, situation, str(account))
    if level is None or level == 0 or _target_level(case, situation, str(destination)) != level - 1:
        return None  # the account is not where the move put it, as far as the walk knows: no rollback
    found = source_levels(case.evidence, str(source))
    if found is None:
        return None
    targets, levels = found
    kept = situation.chain or ()
    left = [t for t in targets if t not in kept]
    levels = [list(situation.policies.scps[kept.index(t)]) if t in kept else each for t, each in zip(targets, levels)]
    moved = Situation(_with(situation, scps=levels).policies, situation.key_state, tuple(targets))
    at_move = _left_chain_at_move(case, change, moved, left, every)
    if at_move is None:
        return None
    return replace(_with(at_move, scps=at_move.policies.scps + [list(situation.policies.scps[level])]),
                   key_state=situation.key_state, chain=(*targets, str(account)))


def _left_chain_at_move(case: Case, change: Candidate, moved: Situation, left: list[str],
                        every: list[Candidate]) -> Situation | None:
    """The chain the account left (`moved`, as it is now) as it was at the move: each AttachPolicy,
    DetachPolicy and UpdatePolicy since, on a target in `left` (not above the account since) or of an SCP
    listed only there, undone latest first. None when a look-up that would show them (`change-org-<target>`,
    `change-scp-<id>` in the management account) is not in the evidence, or one cannot be undone."""
    only_there = {p.name.rsplit("/", 1)[-1] for t in left for p in moved.policies.scps[moved.chain.index(t)]} \
        if moved.chain else set()
    only_there.discard(FULL_AWS_ACCESS[0])  # its content never changes: never looked up
    documents = case.evidence.documents
    needed = [f"change-org-{t}" for t in left] + [f"change-scp-{p}" for p in sorted(only_there)]
    if any(f"cloudtrail.lookup-events.{name}.json" not in documents for name in needed):
        return None  # the chain's changes since the move were not looked up: its state then is unknown
    since = [c for c in every if c.event_time >= change.event_time and c.event_id != change.event_id
             and c.event_name in ("AttachPolicy", "DetachPolicy", "UpdatePolicy")
             and (str(c.param("targetId")) in left
                  or (c.event_name == "UpdatePolicy" and str(c.policy_id()) in only_there))]
    state: Situation | None = moved
    for each in reversed(since):
        state = _undo(case, each, state, every) if state is not None else None
    return state


def source_levels(evidence: Evidence, parent: str) -> tuple[list[str], list[list[Policy]]] | None:
    """(targets, SCP levels), root first, of `parent` (an OU or the root) and each of its ancestors, from the
    evidence's organizations.list-parents / list-policies-for-target / describe-policy documents; None when one
    is missing or unreadable (nothing is guessed)."""
    targets = organization_chain(evidence, parent)
    if not targets or not targets[-1].startswith("r-") or not all(PARENT_ID.fullmatch(t) for t in targets):
        return None  # the walk up to the root is not in the evidence
    levels: list[list[Policy]] = []
    for target in reversed(targets):
        listed = (evidence.document(f"organizations.list-policies-for-target.{target}.json") or {}).get("Policies")
        if not isinstance(listed, list) or not listed:
            return None
        level: list[Policy] = []
        for summary in listed:
            policy_id = summary.get("Id") if isinstance(summary, dict) else None
            described = (evidence.document(f"organizations.describe-policy.{policy_id}.json") or {}).get("Policy")
            document = policy_document((described or {}).get("Content"))
            if not policy_id or document is None:
                return None
            level.append(Policy(document, f"scp:{target}/{policy_id}"))
        levels.append(level)
    return list(reversed(targets)), levels


def _chain_now(case: Case, policies: PolicySet) -> tuple[str, ...] | None:
    """The target of each SCP level now (root first), from the evidence's list-parents files, when they give
    exactly the levels the request was evaluated with; else None (levels are then found by their SCPs)."""
    targets = organization_chain(case.evidence, case.account_id)
    if len(targets) < 2 or not targets[-1].startswith("r-") or len(targets) != len(policies.scps):
        return None
    chain = tuple(reversed(targets))
    for target, level in zip(chain, policies.scps):
        if any(not p.name.startswith(f"scp:{target}/") for p in level):
            return None
    return chain


def _target_level(case: Case, situation: Situation, target: str) -> int | None:
    """The index in the chain's levels of the SCPs attached to `target` (the account, an OU or the root): from the
    situation's chain when known (after a move is rolled back, always), else from the level's SCP labels and
    the levels the account's SCPs are in now."""
    if situation.chain is not None:
        return situation.chain.index(target) if target in situation.chain else None
    for index, level in enumerate(situation.policies.scps):
        if any(p.name.startswith(f"scp:{target}/") for p in level):
            return index
    rows = case.frames.identity_statements
    found = rows[(rows["source"] == "scp") & (rows["target_id"] == target)]["scp_level"].dropna()
    if len(found) and int(found.iloc[0]) < len(situation.policies.scps):
        return int(found.iloc[0])
    return None

def _previous_key_policy(change: Candidate, earlier: list[Candidate], case: Case) -> dict[str, Any] | None:
    ref = change.key_ref()
    for previous in reversed(earlier):
        if previous.event_name == "PutKeyPolicy" and previous.key_ref() == ref:
            return previous.document("policy")
        if previous.event_name == "CreateKey" and ref and ref.rsplit("/", 1)[-1] in str(previous.response):
            document = previous.document("policy")
            if document is not None:
                return document
            account = ref.split(":")[4] if ref.count(":") >= 5 else case.account_id
            return {"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
                "Sid": "Enable IAM User Permissions", "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}
    return None


def _managed_policy(case: Case, arn: str) -> dict[str, Any] | None:
    """A customer managed policy's entry in get-account-authorization-details (its versions), by ARN."""
    details = case.evidence.document("iam.get-account-authorization-details.json") or {}
    return next((p for p in details.get("Policies") or [] if isinstance(p, dict) and p.get("Arn") == arn), None)


def _managed_document(case: Case, arn: str, version: str | None = None) -> dict[str, Any] | None:
    """A customer managed policy's document: its default version, or the version `version` (the one that was
    the default before a CreatePolicyVersion), from get-account-authorization-details."""
    policy = _managed_policy(case, arn)
    if policy is None:
        return None
    versions = [v for v in policy.get("PolicyVersionList") or [] if isinstance(v, dict)]
    if version is not None:
        chosen = next((v for v in versions if str(v.get("VersionId")) == version), None)
    else:
        chosen = next((v for v in versions if v.get("IsDefaultVersion")), None)
    return policy_document((chosen or {}).get("Document"))  # a dict, or (URL-encoded) JSON as IAM prints it


def _version(value: Any) -> int:
    text = str(value or "").lstrip("v")
    return int(text) if text.isdigit() else 0


# ---- situations ------------------------------------------------------------------------------------------------

def _with(situation: Situation, **changes: Any) -> Situation:
    p = situation.policies
    policies = PolicySet(identity=changes.get("identity", p.identity),
                         resource_policy=changes.get("resource", p.resource_policy),
                         boundary=changes["boundary"] if "boundary" in changes else p.boundary,
                         scps=changes.get("scps", p.scps), session_policies=p.session_policies,
                         management_account_id=p.management_account_id)
    return replace(situation, policies=policies)


def _with_identity(situation: Situation, label: str, document: dict[str, Any]) -> Situation:
    others = [p for p in situation.policies.identity if p.name != label]
    return _with(situation, identity=others + [Policy(document, label)])


def _with_scp(situation: Situation, policy_id: str, document: dict[str, Any]) -> Situation:
    return _with(situation, scps=[[Policy(document, p.name) if p.name.endswith("/" + policy_id) else p for p in level]
                                  for level in situation.policies.scps])


def _value(change: Candidate, situation: Situation, case: Case) -> Any:
    """The changed document or value, as findings' before/after hold it."""
    p = situation.policies
    if change.layer == "key-policy":
        return p.resource_policy.document if p.resource_policy else None
    if change.layer == "key-state":
        return situation.key_state
    if change.layer == "permissions-boundary":
        return p.boundary.document if p.boundary else None
    if change.layer == "scp":
        return [[q.document for q in level] for level in p.scps]
    if change.layer == "identity-policy":
        arn = change.param("policyArn")
        label = f"managed:{arn}" if arn else f"inline:{change.param('policyName')}"
        found = [q.document for q in p.identity if q.name == label]
        return found[0] if found else None
    if change.layer == "ebs-default":
        return change.key_ref() if change.event_name == "ModifyEbsDefaultKmsKeyId" else True
    return None


# ---- facts of the case -------------------------------------------------------------------------------------------

def _failure_time(case: Case, key_arn: str | None) -> pd.Timestamp | None:
    times = [f.event_time for f in case.kms_failures if f.event_time is not None and (not key_arn or f.key_arn == key_arn)]
    if not times and case.launch_event is not None:
        times = [case.launch_event.get("event_time")]
    stamps = [pd.Timestamp(t) for t in times if t is not None]
    return min(stamps) if stamps else None


def _key_state(case: Case, key_arn: str) -> str:
    row = case.key(key_arn) or {}
    return str(row.get("key_state") or USABLE)


def _subject(case: Case, verdict: Verdict) -> Subject | None:
    launcher = case.launcher
    if launcher is None or not verdict.key_arn:
        return None
    frames = case.frames
    rows = frames.identity_statements
    arn = launcher.arn
    mine = rows[rows["principal_arn"] == arn]
    principals = frames.principals[frames.principals["arn"] == arn] if len(frames.principals) else frames.principals
    groups = principals.iloc[0]["groups"] if len(principals) and isinstance(principals.iloc[0]["groups"], list) else []
    scp = rows[rows["source"] == "scp"]
    kind = "user" if ":user/" in arn else "role"
    return Subject(
        key_arn=verdict.key_arn, principal_arn=arn, principal_type=kind, principal_name=arn.rsplit("/", 1)[-1],
        groups=tuple(str(g) for g in groups),
        policy_arns=tuple(str(a) for a in mine["policy_arn"].dropna().unique()),
        scp_targets=tuple(str(t) for t in scp["target_id"].dropna().unique()),
        scp_ids=tuple(str(a).rsplit("/", 1)[-1] for a in scp["policy_arn"].dropna().unique()),
        region=case.region,
        implicit_default_key=any(u.implicit_default and u.key_arn == verdict.key_arn for u in case.key_uses))


def last_success(events: pd.DataFrame, launcher_arn: str, key_arn: str, instance_id: str,
                 failure: pd.Timestamp) -> dict[str, Any] | None:
    """The last launch by the same launcher with the same key that EC2 could attach (its CreateGrant succeeded)
    before the failure; failing that, the last successful launch of the same instance before it."""
    if not len(events):
        return None
    times = pd.to_datetime(events["event_time"], utc=True)
    before = events[times < failure]
    grants = before[(before["event_name"] == "CreateGrant") & before["error_code"].isna()
                    & (before["principal_arn"] == launcher_arn)
                    & before["key_arns"].map(lambda keys: key_arn in (keys if isinstance(keys, list) else []))]
    if len(grants):
        grant = grants.sort_values("event_time").iloc[-1]
        instances = grant["instance_ids"] if isinstance(grant["instance_ids"], list) else []
        launch = _launch_before(before, instances, pd.Timestamp(grant["event_time"]))
        row = launch if launch is not None else grant
        return {"event_id": row["event_id"], "event_name": row["event_name"],
                "event_time": pd.Timestamp(row["event_time"]).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "instance_id": instances[0] if instances else None,
                "grant_time": pd.Timestamp(grant["event_time"]).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return None


def _launch_before(events: pd.DataFrame, instances: list[str], at: pd.Timestamp) -> Any:
    times = pd.to_datetime(events["event_time"], utc=True)
    near = events[events["event_name"].isin(["StartInstances", "RunInstances"]) & events["error_code"].isna()
                  & (times <= at) & (times >= at - pd.Timedelta(minutes=10))
                  & events["instance_ids"].map(lambda ids: bool(set(ids if isinstance(ids, list) else []) & set(instances)))]
    return near.sort_values("event_time").iloc[-1] if len(near) else None


def mark_change(frame: pd.DataFrame, change: dict[str, Any] | None) -> pd.DataFrame:
    """The timeline frame (kit.diagnose.timeline) with the named change as a row of kind `change`."""
    if not change:
        return frame
    row = {"time": pd.Timestamp(change["event_time"]), "kind": "change", "event_name": change["event_name"],
           "event_source": None, "error_code": None,
           "label": f"change: {change['event_name']} by {change.get('principal_arn') or 'unknown'} ({change['layer']})",
           "principal_arn": change.get("principal_arn"), "event_id": change.get("event_id")}
    marked = pd.concat([frame, pd.DataFrame([row], columns=frame.columns)], ignore_index=True) if len(frame) else \
        pd.DataFrame([row], columns=list(row))
    marked["time"] = pd.to_datetime(marked["time"], utc=True, errors="coerce")
    return marked.sort_values("time", kind="stable").reset_index(drop=True)


# ---- descriptions ------------------------------------------------------------------------------------------------

def _describe(change: Candidate, before: Any, after: Any, verdict: Verdict, action: str, *,
              worked: str | None = None) -> dict[str, Any]:
    who = change.principal_arn or "an unknown principal"
    if before is None and worked:
        effect = (f"the evidence lacks the state before it, but the same {action} succeeded at {worked} (the last "
                  f"success), and no recorded change between then and this one could have refused it; with the "
                  f"state after it, denied, and by what it changed alone")
    elif before is None:
        effect = "the evidence lacks the state before it, but what it did decides the launch"
    else:
        effect = f"with the state before it EC2's {action} for the launch is allowed; with the state after it, denied"
    return {"event_id": change.event_id, "event_name": change.event_name, "event_time": change.time_text,
            "principal_arn": change.principal_arn, "layer": change.layer,
            "summary": f"{change.event_name} by {who} at {change.time_text} ({change.layer}): {effect}."
                       + _rollback(change),
            "before": before, "after": after}


def _rollback(change: Candidate) -> str:
    """How to undo a change whose undo is not a policy edit (a MoveAccount: move the account back)."""
    if change.event_name != "MoveAccount":
        return ""
    command = move_back(change)
    if command is None:
        return " Move the account back under its former parent, or change the SCPs that deny the request."
    return (f" Roll it back in the organization's management account: {command}; or change the SCPs of "
            f"{change.param('destinationParentId')} so that they allow the request.")


def _other(change: Candidate, failure: pd.Timestamp | None, subject: Subject | None,
           named: Candidate | None) -> dict[str, Any]:
    if failure is not None and change.event_time >= failure:
        why = "after the failure"
    elif change.layer in NOT_MODELLED:
        why = "not modelled by the evaluator (listed only)"
    elif subject is None or not touches(change, subject):
        why = "to another principal, key or Region"
    elif change.event_name in ORIGINS:
        why = "creates the document a later change uses"
    elif named is not None and change.event_time < named.event_time:
        why = "before the change named, which decided"
    else:
        why = "no effect on the failing request shown"
    return {"event_id": change.event_id, "event_name": change.event_name, "event_time": change.time_text,
            "principal_arn": change.principal_arn, "layer": change.layer, "why_not": why}


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
