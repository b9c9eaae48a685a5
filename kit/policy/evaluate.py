"""evaluate(request, policies): AWS's policy evaluation logic, with the KMS key-policy rules.

Order (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html,
https://docs.aws.amazon.com/kms/latest/developerguide/policy-evaluation.html):
1. an explicit Deny in any applicable policy wins (SCP, key policy, identity, boundary, session policy);
2. every SCP level must allow (not for service-linked roles, service principals, or principals of the
   organization's management account);
3. a KMS key policy is always required: a statement naming the caller grants on its own in the same
   account; one naming the caller's account only delegates to IAM (identity policies must allow);
   cross-account, the key policy must allow the caller's account or the caller AND the caller's
   identity policies must allow;
4. a permissions boundary limits identity-policy grants and resource-policy grants to a role, not
   grants naming a user or a session; session policies likewise;
5. a KMS grant on the key whose grantee is the caller (the user, or the role of a session) and whose operations hold the action, its encryption-context constraint met, allows on its
   own, in the same account or across accounts, with no key-policy or IAM statement
   (https://docs.aws.amazon.com/kms/latest/developerguide/grants.html); an explicit Deny and the SCPs still
   apply, and a boundary or session policy limits it as it limits a key-policy statement naming the role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kit.policy.conditions import evaluate_condition
from kit.policy.document import Policy, Statement
from kit.policy.matching import action_matches, arn_matches, split_arn
from kit.policy.model import Decision, Grant, PolicySet, Request
from kit.policy.principals import ACCOUNT, DIRECT, ROLE, Caller, caller_from, not_principal_applies, principal_match
from kit.policy.variables import substitute

LAYER_NAMES = {
    "scp": "service control policy",
    "key-policy": "key policy (resource-based policy)",
    "identity-policy": "identity-based policy",
    "permissions-boundary": "permissions boundary",
    "session-policy": "session policy",
}
AWS_LAYER_WORDS = {
    "scp": "service control policy",
    "key-policy": "resource-based policy",
    "identity-policy": "identity-based policy",
    "permissions-boundary": "permissions boundary",
    "session-policy": "session policy",
}


@dataclass
class Hit:
    """A statement that applies to the request."""

    policy: Policy
    statement: Statement
    how: str | None = None  # for key-policy statements: DIRECT, ROLE or ACCOUNT

    @property
    def ref(self) -> str:
        """`key-policy Statement[0] "Enable IAM policies"`."""
        return f"{self.policy.name} {self.statement.label}"


@dataclass
class Scan:
    """What one layer's statements say about the request."""

    allows: list[Hit] = field(default_factory=list)
    denies: list[Hit] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)  # Allow statements for the action that did not apply


def evaluate(request: Request, policies: PolicySet) -> Decision:
    """Decide one request against every policy layer; the explanation says which statement or layer decided."""
    return _Evaluation(request, policies).run()


def effective_context(request: Request, caller: Caller) -> dict[str, str | list[str]]:
    """The request context with keys lower-cased and the keys AWS always sets filled in when absent:
    aws:PrincipalArn, aws:PrincipalAccount, aws:username (IAM users), kms:CallerAccount (KMS actions)."""
    context: dict[str, str | list[str]] = {}
    for key, value in request.context.items():
        context[key.lower()] = [_text(v) for v in value] if isinstance(value, list) else _text(value)
    derived: dict[str, str | None] = {
        "aws:principalarn": caller.role_arn or (caller.arn if caller.kind != "service" else None),
        "aws:principalaccount": caller.account,
        "aws:username": caller.user_name,
        "kms:calleraccount": caller.account if request.action.lower().startswith("kms:") else None,
    }
    for key, known in derived.items():
        if known is not None and key not in context:
            context[key] = known
    return context


def resource_account(resource: str) -> str | None:
    """The account id in a resource ARN, if it has one."""
    parts = split_arn(resource)
    return parts[4] if parts and parts[4] else None


def is_kms_key(resource: str) -> bool:
    """Whether the resource is a KMS key ARN (whose key policy is then required)."""
    parts = split_arn(resource)
    return bool(parts and parts[2] == "kms" and parts[5].startswith("key/"))


class _Evaluation:
    def __init__(self, request: Request, policies: PolicySet) -> None:
        self.request = request
        self.policies = policies
        self.caller = caller_from(request.principal_arn, request.principal_type)
        self.context = effective_context(request, self.caller)
        self.key_account = resource_account(request.resource)
        # A service principal has no account: the resource policy alone decides for it.
        self.same_account = (self.key_account is None or self.key_account == self.caller.account
                             or self.caller.kind == "service")
        self.key_required = is_kms_key(request.resource)
        self.lines: list[str] = []

    # -- the story, top-down ---------------------------------------------------------------------
    def run(self) -> Decision:
        request, caller = self.request, self.caller
        thing = "the key" if self.key_required else "the resource"
        where = "same account" if self.same_account else f"cross-account: {thing} is in {self.key_account}"
        self.lines.append(f"Request: {caller.describe()} calls {request.action} on {request.resource} ({where}).")
        scp_levels = self._scan_scps()
        key = self._scan_key_policy()
        identity = self._scan_layer(self.policies.identity) if caller.has_iam_policies else None
        boundary = (self._scan_layer([self.policies.boundary])
                    if self.policies.boundary is not None and caller.has_iam_policies else None)
        session = (self._scan_layer(self.policies.session_policies)
                   if self.policies.session_policies and caller.has_iam_policies else None)

        return (self._explicit_deny(scp_levels, key, identity, boundary, session)
                or self._scp_implicit_deny(scp_levels)
                or self._allow_or_implicit_deny(key, identity, boundary, session))

    # -- layers ---------------------------------------------------------------------------------
    def _scan_scps(self) -> list[Scan]:
        caller, policies = self.caller, self.policies
        if not policies.scps:
            return []
        reason = None
        if caller.kind == "service":
            reason = "a service principal"
        elif caller.service_linked:
            reason = "a service-linked role"
        elif policies.management_account_id and caller.account == policies.management_account_id:
            reason = "a principal of the organization's management account"
        if reason:
            self.lines.append(f"SCPs: do not apply to {reason}.")
            return []
        return [self._scan_layer(level) for level in policies.scps]

    def _scan_key_policy(self) -> Scan | None:
        policy = self.policies.resource_policy
        if policy is None:
            return None
        return self._scan_layer([policy], resource_policy=True)

    def _scan_layer(self, policies: Iterable[Policy], resource_policy: bool = False) -> Scan:
        scan = Scan()
        for policy in policies:
            for statement in policy.statements:
                applies, how, miss = self._statement_applies(policy, statement, resource_policy)
                if applies:
                    (scan.allows if statement.effect == "Allow" else scan.denies).append(Hit(policy, statement, how))
                elif miss and statement.effect == "Allow":
                    scan.misses.append(f"{policy.name} {statement.label} does not apply: {miss}.")
        return scan

    def _statement_applies(self, policy: Policy, statement: Statement,
                           resource_policy: bool) -> tuple[bool, str | None, str | None]:
        request = self.request
        if statement.actions is not None:
            if not any(action_matches(p, request.action) for p in statement.actions):
                return False, None, None
        elif any(action_matches(p, request.action) for p in statement.not_actions or ()):
            return False, None, None
        patterns = statement.resources if statement.resources is not None else statement.not_resources or ()
        matched = any(self._resource_matches(policy, p) for p in patterns)
        if matched != (statement.resources is not None):
            element = "Resource" if statement.resources is not None else "NotResource"
            return False, None, f"it covers {request.action} but its {element} {list(patterns)} " \
                                f"{'does not match' if element == 'Resource' else 'excludes'} {request.resource}"
        how = None
        if resource_policy:
            if statement.principal is not None:
                how = principal_match(statement.principal, self.caller)
                if how is None:
                    return False, None, f"its Principal names {statement.principal.describe()}, not this caller"
            elif statement.not_principal is not None:
                if not not_principal_applies(statement.not_principal, self.caller,
                                             self.policies.boundary is not None, statement.effect):
                    return False, None, "its NotPrincipal excludes this caller"
                how = DIRECT
        for condition in statement.conditions:
            ok, why = evaluate_condition(condition, self.context, policy.variables_enabled)
            if not ok:
                return False, None, f"condition {why}"
        return True, how, None

    def _resource_matches(self, policy: Policy, pattern: str) -> bool:
        if policy.variables_enabled:
            resolved = substitute(pattern, self.context)
            if resolved is None:
                return False
            pattern = resolved
        return arn_matches(pattern, self.request.resource)

    # -- decisions ------------------------------------------------------------------------------
    def _explicit_deny(self, scp_levels: list[Scan], key: Scan | None, identity: Scan | None,
                       boundary: Scan | None, session: Scan | None) -> Decision | None:
        layers = [("scp", s) for s in scp_levels] + [("key-policy", key), ("identity-policy", identity),
                                                     ("permissions-boundary", boundary), ("session-policy", session)]
        for layer, scan in layers:
            if scan is None or not scan.denies:
                continue
            hit = scan.denies[0]
            conditions = "; ".join(evaluate_condition(c, self.context, hit.policy.variables_enabled)[1]
                                   for c in hit.statement.conditions)
            self.lines.append(f"Explicit deny: {hit.ref} in the {LAYER_NAMES[layer]} denies {self.request.action}"
                              + (f" (conditions met: {conditions})" if conditions else "") + ".")
            others = [h.ref for _, s in layers if s is not None for h in s.denies if h is not hit]
            if others:
                self.lines.append("Other denying statements: " + ", ".join(others) + ".")
            words = AWS_LAYER_WORDS[layer]
            article = "an" if words[0] in "aeiou" else "a"
            self.lines.append(f"Decision: deny. An explicit Deny overrides every Allow (AWS: \"... with an explicit "
                              f"deny in {article} {words}\").")
            return Decision("deny", "explicit-deny", layer, True, self.lines, hit.ref)
        return None

    def _scp_implicit_deny(self, scp_levels: list[Scan]) -> Decision | None:
        for level, scan in enumerate(scp_levels):
            if scan.allows:
                continue
            for earlier in range(level):
                self.lines.append(f"SCPs: level {earlier} allows ({scp_levels[earlier].allows[0].ref}).")
            self.lines.append(f"SCPs: level {level} ({'root' if level == 0 else 'OU/account'}) has no statement "
                              f"allowing {self.request.action}: every level of the organization must allow.")
            self._misses(scan)
            return self._deny("scp")
        if scp_levels:
            self.lines.append("SCPs: every level allows (" + "; ".join(
                f"level {i}: {s.allows[0].ref}" for i, s in enumerate(scp_levels)) + ").")
        return None

    def _allow_or_implicit_deny(self, key: Scan | None, identity: Scan | None, boundary: Scan | None,
                                session: Scan | None) -> Decision:
        caller = self.caller
        if caller.kind == "root":
            identity_ok, identity_why = True, "the account's root user needs no identity policy"
        elif caller.kind == "service":
            identity_ok, identity_why = False, "a service principal has no identity policies"
        else:
            identity_ok = bool(identity and identity.allows)
            identity_why = (f"{identity.allows[0].ref} allows" if identity_ok and identity
                            else f"no statement allows {self.request.action} on this resource")
        boundary_ok = boundary is None or bool(boundary.allows)
        session_ok = session is None or bool(session.allows)

        key_by = {DIRECT: [], ROLE: [], ACCOUNT: []}  # type: dict[str, list[Hit]]
        for hit in key.allows if key else []:
            key_by[hit.how or DIRECT].append(hit)
        self._describe_key(key, key_by)
        if caller.kind not in ("root", "service"):
            self.lines.append(f"Identity policies: {identity_why}.")
            if identity and not identity_ok:
                self._misses(identity)
        if boundary is not None:
            self.lines.append("Permissions boundary: " + (f"{boundary.allows[0].ref} allows." if boundary_ok else
                              f"no statement allows {self.request.action}; it limits identity-policy grants "
                              "and key-policy grants to a role."))
            if not boundary_ok:
                self._misses(boundary)
        if session is not None:
            self.lines.append("Session policies: " + (f"{session.allows[0].ref} allows." if session_ok else
                              f"no statement allows {self.request.action}."))
            if not session_ok:
                self._misses(session)

        limits_ok = boundary_ok and session_ok
        grant = self._grant()
        if grant is not None:
            self.lines.append(f"Grants: {grant.name} gives {grant.grantee} {', '.join(grant.operations)} on the key.")
            if limits_ok or caller.kind == "user":
                return self._allow(f"the grant {grant.name} allows the caller on its own", grant.name)
        via_identity = identity_ok and limits_ok
        has_key = self.policies.resource_policy is not None
        if self.same_account:
            if key_by[DIRECT]:
                hit = key_by[DIRECT][0]
                return self._allow(f"{hit.ref} names the caller: enough on its own in the same account "
                                   "(not limited by a boundary or session policy)", hit.ref)
            if key_by[ROLE] and limits_ok:
                hit = key_by[ROLE][0]
                return self._allow(f"{hit.ref} names the caller's role", hit.ref)
            if via_identity and (key_by[ACCOUNT] or not self.key_required):
                refs = [h.ref for h in key_by[ACCOUNT][:1]] + [h.ref for h in (identity.allows[:1] if identity else [])]
                how = ("the key policy delegates to IAM and " if key_by[ACCOUNT] else "") + (
                    "the caller is the account's root user" if caller.kind == "root" else "the identity policies allow")
                return self._allow(how, " + ".join(refs) or None)
            # implicit deny: say which layer lacks an allow
            if self.key_required and not has_key:
                return self._deny("key-policy", "no key policy was given, and KMS always requires the key policy to allow")
            if self.key_required and not key_by[ACCOUNT] and not key_by[ROLE]:
                return self._deny("key-policy", "the key policy neither names the caller nor delegates to the account")
            if key_by[ROLE]:
                layer = "permissions-boundary" if not boundary_ok else "session-policy"
                return self._deny(layer, "the key policy names the caller's role, and a grant to a role is limited by "
                                  "the " + ("permissions boundary" if not boundary_ok else "session policies"))
            return self._identity_chain(identity_ok, boundary_ok, session_ok,
                                        "the key policy grants only through IAM" if key_by[ACCOUNT] else None)
        # cross-account: the key policy must allow AND the caller's IAM policies must allow
        if not any(key_by.values()):
            if not has_key and not self.key_required:
                return self._deny("key-policy", "cross-account access needs the resource policy to allow")
            return self._deny("key-policy", "cross-account: the key policy allows neither the caller's account "
                              f"{caller.account} nor the caller" if has_key else "no key policy was given")
        if via_identity:
            hit = (key_by[DIRECT] or key_by[ROLE] or key_by[ACCOUNT])[0]
            refs = [hit.ref] + ([identity.allows[0].ref] if identity and identity.allows else [])
            return self._allow("cross-account: the key policy allows the caller's account or the caller, and the "
                               "caller's identity policies allow", " + ".join(refs))
        return self._identity_chain(identity_ok, boundary_ok, session_ok,
                                    "cross-account access needs the caller's identity policies too")

    def _grant(self) -> Grant | None:
        """The first of the key's grants that covers this request, None if none does."""
        if not self.key_required or not self.request.action.lower().startswith("kms:"):
            return None
        operation = self.request.action.split(":", 1)[1].lower()
        for grant in self.policies.grants:
            if not self._is_grantee(grant.grantee) or operation not in {o.lower() for o in grant.operations}:
                continue
            if self._grant_constraints_met(grant):
                return grant
            self.lines.append(f"Grants: {grant.name} covers {self.request.action} but its encryption-context "
                              "constraint is not met.")
        return None

    def _is_grantee(self, grantee: str) -> bool:
        """The grantee names the caller: the user, or the caller's role (by its ARN, whatever the path, since a
        session's ARN does not carry the role's path)."""
        caller = self.caller
        if grantee == caller.arn or (caller.role_arn and grantee == caller.role_arn):
            return True
        parts = split_arn(grantee)
        return bool(caller.role_name and parts and parts[2] == "iam" and parts[4] == caller.account
                    and parts[5].startswith("role/") and parts[5].rsplit("/", 1)[-1] == caller.role_name)

    def _grant_constraints_met(self, grant: Grant) -> bool:
        prefix = "kms:encryptioncontext:"
        given = {k[len(prefix):]: v for k, v in self.context.items() if k.startswith(prefix) and k != prefix + "keys"}
        subset = grant.constraints.get("EncryptionContextSubset") or {}
        equals = grant.constraints.get("EncryptionContextEquals")
        if any(given.get(k.lower()) != v for k, v in subset.items()):
            return False
        return equals is None or given == {k.lower(): v for k, v in equals.items()}

    def _identity_chain(self, identity_ok: bool, boundary_ok: bool, session_ok: bool, why: str | None) -> Decision:
        if not identity_ok:
            return self._deny("identity-policy", why)
        if not boundary_ok:
            return self._deny("permissions-boundary", why)
        return self._deny("session-policy", why)

    def _describe_key(self, key: Scan | None, key_by: dict[str, list[Hit]]) -> None:
        if self.policies.resource_policy is None:
            if self.key_required:
                self.lines.append("Key policy: none given (KMS always requires the key policy to allow).")
            return
        words = {DIRECT: "names the caller", ROLE: "names the caller's role",
                 ACCOUNT: f"allows the caller's account {self.caller.account} (delegates to its IAM policies)"}
        found = [f"{hit.ref} {words[how]}" for how in (DIRECT, ROLE, ACCOUNT) for hit in key_by[how]]
        label = "Key policy" if self.key_required else "Resource policy"
        self.lines.append(f"{label}: " + ("; ".join(found) if found else
                          f"no statement allows {self.request.action} for this caller") + ".")
        if key and not (key_by[DIRECT] or key_by[ROLE]):  # statements that might have named the caller
            self._misses(key)

    def _misses(self, scan: Scan) -> None:
        self.lines.extend(f"  {miss}" for miss in scan.misses)

    def _allow(self, how: str, statement: str | None) -> Decision:
        self.lines.append(f"Decision: allow: {how}.")
        return Decision("allow", "allowed", None, False, self.lines, statement)

    def _deny(self, layer: str, why: str | None = None) -> Decision:
        action = self.request.action
        self.lines.append(f"Decision: deny: no {LAYER_NAMES[layer]} allows {action}" + (f" ({why})" if why else "")
                          + f". AWS: \"... because no {AWS_LAYER_WORDS[layer]} allows the {action} action\".")
        return Decision("deny", layer, layer, False, self.lines, None)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
