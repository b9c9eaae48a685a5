"""Who is calling (the caller's identities) and how the Principal / NotPrincipal elements name them.

Principal entries are exact: `*` alone (or {"AWS": "*"}) is the only wildcard; an account id or
`arn:aws:iam::<acct>:root` names the account (which, for anyone but the account's root user, only
delegates to that account's IAM policies); a role ARN names every session of that role.
Sources: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kit.errors import BadInput
from kit.policy.matching import has_wildcard

PRINCIPAL_KEYS = ("AWS", "Service", "Federated", "CanonicalUser")
CALLER_KINDS = ("user", "role", "role_session", "root", "service", "federated",
                "service_linked_role_session")
_ACCOUNT_ID = re.compile(r"^\d{12}$")
# A principal deleted after the policy was saved shows as its unique id (AIDA..., AROA...): valid, matches nobody.
_UNIQUE_ID = re.compile(r"^A[A-Z0-9]{15,127}$")
_IAM_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):(?P<service>iam|sts)::(?P<account>\d{12}):(?P<resource>.+)$")

# How a Principal entry matched the caller, strongest first.
DIRECT = "direct"     # names the caller itself (user, session, root, service, or "*")
ROLE = "role"         # names the role whose session is calling
ACCOUNT = "account"   # names the caller's account: delegation to IAM policies
_STRENGTH = {DIRECT: 3, ROLE: 2, ACCOUNT: 1}


@dataclass(frozen=True)
class Caller:
    """The principal making a request, with every identity a policy may use to name it."""

    arn: str
    kind: str
    account: str | None
    role_arn: str | None = None      # for role sessions: the role's ARN (iam)
    role_name: str | None = None
    session_arn: str | None = None   # for role sessions, when the session ARN is known
    user_name: str | None = None

    @property
    def service_linked(self) -> bool:
        """Whether the caller is (a session of) a service-linked role."""
        return self.kind == "service_linked_role_session" or (
            self.role_arn is not None and ":role/aws-service-role/" in self.role_arn)

    @property
    def has_iam_policies(self) -> bool:
        """Whether identity policies, boundaries and session policies apply (not to root or services)."""
        return self.kind not in ("root", "service")

    def describe(self) -> str:
        """`arn:... (role session, account 111122223333)`."""
        kind = self.kind.replace("_", " ")
        if self.service_linked and self.kind != "service_linked_role_session":
            kind = "service-linked " + kind
        return f"{self.arn} ({kind}{', account ' + self.account if self.account else ''})"


def caller_from(principal_arn: str, principal_type: str | None) -> Caller:
    """Work out the caller from its ARN and optional type (`principal_type` wins where it is given)."""
    if not isinstance(principal_arn, str) or not principal_arn:
        raise BadInput("principal_arn", "an IAM user or role ARN, an account id or a service principal",
                       principal_arn)
    if principal_type is not None and principal_type not in CALLER_KINDS:
        raise BadInput("principal_type", f"one of {', '.join(CALLER_KINDS)}", principal_type)
    if _ACCOUNT_ID.match(principal_arn):
        return Caller(f"arn:aws:iam::{principal_arn}:root", "root", principal_arn)
    if principal_arn.endswith(".amazonaws.com") and not principal_arn.startswith("arn:"):
        return Caller(principal_arn, "service", None)
    match = _IAM_ARN.match(principal_arn)
    if not match:
        raise BadInput("principal_arn", "an IAM user or role ARN, an account id or a service principal",
                       principal_arn)
    partition, service, account, resource = match.group("partition", "service", "account", "resource")
    if service == "iam" and resource == "root":
        return Caller(principal_arn, "root", account)
    if service == "iam" and resource.startswith("user/"):
        return Caller(principal_arn, principal_type or "user", account, user_name=resource.rsplit("/", 1)[-1])
    if service == "iam" and resource.startswith("role/"):
        name = resource.rsplit("/", 1)[-1]
        kind = principal_type if principal_type in ("role", "service_linked_role_session") else "role_session"
        return Caller(principal_arn, kind, account, role_arn=principal_arn, role_name=name)
    if service == "sts" and resource.startswith("assumed-role/"):
        parts = resource.split("/")
        if len(parts) < 3:
            raise BadInput("principal_arn", "arn:aws:sts::<acct>:assumed-role/<role>/<session>", principal_arn)
        role_name = parts[1]
        kind = principal_type if principal_type == "service_linked_role_session" else "role_session"
        return Caller(principal_arn, kind, account, role_arn=f"arn:{partition}:iam::{account}:role/{role_name}",
                      role_name=role_name, session_arn=principal_arn)
    if service == "sts" and resource.startswith("federated-user/"):
        return Caller(principal_arn, "federated", account)
    raise BadInput("principal_arn", "an IAM user, role, assumed-role or root ARN", principal_arn)


@dataclass(frozen=True)
class PrincipalSpec:
    """A parsed Principal or NotPrincipal element."""

    everyone: bool
    entries: tuple[tuple[str, str], ...]  # (kind, value): ("AWS", "arn:..."), ("Service", "ec2.amazonaws.com")

    def describe(self) -> str:
        """Short text for explanations."""
        if self.everyone:
            return '"*"'
        return ", ".join(value for _, value in self.entries)


def parse_principal(element: object, field: str) -> PrincipalSpec:
    """Parse Principal/NotPrincipal; partial wildcards are refused as AWS refuses them."""
    if element == "*":
        return PrincipalSpec(True, ())
    if not isinstance(element, dict) or not element:
        raise BadInput(field, '"*" or an object with AWS, Service, Federated or CanonicalUser', element)
    entries: list[tuple[str, str]] = []
    everyone = False
    for kind, raw in element.items():
        if kind not in PRINCIPAL_KEYS:
            raise BadInput(f"{field}.{kind}", "one of AWS, Service, Federated, CanonicalUser", kind)
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            raise BadInput(f"{field}.{kind}", "at least one principal", raw)
        for value in values:
            if not isinstance(value, str) or not value:
                raise BadInput(f"{field}.{kind}", "principal names as strings", value)
            if value == "*":
                if kind != "AWS":
                    raise BadInput(f"{field}.{kind}", 'a principal name ("*" only under AWS)', value)
                everyone = True
                continue
            if has_wildcard(value):
                raise BadInput(f"{field}.{kind}", "an exact principal (no partial wildcards in Principal)", value)
            if kind == "AWS" and not (_ACCOUNT_ID.match(value) or _IAM_ARN.match(value) or _UNIQUE_ID.match(value)):
                raise BadInput(f"{field}.{kind}", "an account id, an IAM/STS principal ARN or a unique id", value)
            entries.append((kind, value))
    return PrincipalSpec(everyone, tuple(entries))


def principal_match(spec: PrincipalSpec, caller: Caller) -> str | None:
    """How the Principal element names the caller (DIRECT, ROLE, ACCOUNT), or None."""
    best: str | None = DIRECT if spec.everyone else None
    for kind, value in spec.entries:
        found = _entry_match(kind, value, caller)
        if found and (best is None or _STRENGTH[found] > _STRENGTH[best]):
            best = found
    return best


def not_principal_applies(spec: PrincipalSpec, caller: Caller, has_boundary: bool, effect: str) -> bool:
    """Whether a NotPrincipal statement applies to the caller.

    It applies unless every identity of the caller is listed (the account too: AWS evaluates the
    account as well as the user or session). A Deny with NotPrincipal always applies to principals
    with a permissions boundary (IAM User Guide, access_policies_boundaries).
    """
    if spec.everyone:
        return False
    if has_boundary and effect == "Deny" and caller.kind not in ("root", "service"):
        return True
    listed = {_canonical(kind, value) for kind, value in spec.entries}
    return not all(identity in listed or (identity == "session?" and _any_session_listed(spec, caller))
                   for identity in _identities(caller))


def _entry_match(kind: str, value: str, caller: Caller) -> str | None:
    if caller.kind == "service":
        return DIRECT if kind == "Service" and value.lower() == caller.arn.lower() else None
    if kind == "Federated":
        return DIRECT if caller.kind == "federated" and value == caller.arn else None
    if kind != "AWS":
        return None
    canonical = _canonical(kind, value)
    if canonical == f"account:{caller.account}":
        return DIRECT if caller.kind == "root" else ACCOUNT
    if caller.kind in ("role_session", "role", "service_linked_role_session"):
        if caller.session_arn and value == caller.session_arn:
            return DIRECT
        if caller.role_arn and _same_role(value, caller):
            return ROLE
        return None
    return DIRECT if value == caller.arn else None


def _same_role(value: str, caller: Caller) -> bool:
    if value == caller.role_arn:
        return True
    # A session ARN drops the role's path: compare account and role name when the caller came as a session.
    match = _IAM_ARN.match(value)
    if not match or match.group("service") != "iam" or not match.group("resource").startswith("role/"):
        return False
    return (caller.session_arn is not None and match.group("account") == caller.account
            and match.group("resource").rsplit("/", 1)[-1] == caller.role_name)


def _canonical(kind: str, value: str) -> str:
    if kind == "AWS":
        if _ACCOUNT_ID.match(value):
            return f"account:{value}"
        match = _IAM_ARN.match(value)
        if match and match.group("service") == "iam" and match.group("resource") == "root":
            return f"account:{match.group('account')}"
        return value
    return f"{kind}:{value.lower() if kind == 'Service' else value}"


def _identities(caller: Caller) -> list[str]:
    if caller.kind == "service":
        return [f"Service:{caller.arn.lower()}"]
    identities = [f"account:{caller.account}"]
    if caller.kind == "root":
        return identities
    if caller.role_arn:
        identities.append(caller.role_arn)
        identities.append(caller.session_arn or "session?")
    else:
        identities.append(caller.arn)
    return identities


def _any_session_listed(spec: PrincipalSpec, caller: Caller) -> bool:
    prefix = f"arn:aws:sts::{caller.account}:assumed-role/{caller.role_name}/"
    return any(kind == "AWS" and value.startswith(prefix) for kind, value in spec.entries)
