"""Policy lint: condition entries that can never match the requests they are written for.

    from kit.policy.lint import lint_policy, Finding
    lint_policy(document, name="key-policy", region="eu-west-1")  -> [Finding(...), ...]

What it reports (each is a condition AWS accepts but that never holds as the author meant):
- `kms:ViaService` naming something that is not `<service>.<region>.amazonaws.com`: an account id or a word
  where the Region goes, a Region that does not exist, or (given the key's `region`) another Region than the
  key's (KMS is regional: a key is only ever used through services of its own Region);
- an exact-match operator (`StringEquals`, `StringNotEquals`, `ArnEquals`, `ArnNotEquals`, ...) whose value holds
  a `*` or `?`: they compare literally, only the `...Like` operators expand wildcards;
- a `Bool` condition whose value is neither true nor false;
- `aws:SourceVpc` / `aws:SourceVpce` values that are not VPC / VPC endpoint ids.
Pure: no AWS calls, no kit imports beyond kit.policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kit.policy.matching import action_matches

REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx|cn|us-gov|us-iso|us-isob)-[a-z]+-\d$")
VIA_SERVICE = re.compile(r"^(?P<service>[a-z0-9-]+)\.(?P<region>[^.]+)\.amazonaws\.com(\.cn)?$")
ACCOUNT = re.compile(r"^\d{12}$")
EXACT = ("stringequals", "stringnotequals", "stringequalsignorecase", "stringnotequalsignorecase", "arnequals",
         "arnnotequals")
SOURCE_ID_PREFIX = {"aws:sourcevpc": "vpc-", "aws:sourcevpce": "vpce-"}


@dataclass(frozen=True)
class Finding:
    """One condition entry that cannot match: where (policy name, statement label), what, and why."""

    policy: str
    statement: str  # 'Statement[2] "Sid"'
    operator: str
    key: str
    value: str
    problem: str
    effect: str = ""
    actions: tuple[str, ...] = ()

    def sentence(self) -> str:
        """The finding in one sentence."""
        return f"{self.policy} {self.statement}: {self.operator} {self.key} {self.value!r} can never match: {self.problem}"

    def covers(self, action: str) -> bool:
        """Whether the statement it is in names `action` (Action entries; NotAction statements count)."""
        return not self.actions or any(action_matches(a, action) for a in self.actions)


def lint_policy(document: dict[str, Any], *, name: str = "policy", region: str | None = None) -> list[Finding]:
    """The condition entries of `document` that can never match (see the module docstring)."""
    statements = document.get("Statement") if isinstance(document, dict) else None
    statements = statements if isinstance(statements, list) else [statements] if isinstance(statements, dict) else []
    out: list[Finding] = []
    for index, statement in enumerate(statements):
        if not isinstance(statement, dict):
            continue
        label = f"Statement[{index}]" + (f' "{statement["Sid"]}"' if statement.get("Sid") else "")
        actions = statement.get("Action")
        actions = tuple(a for a in (actions if isinstance(actions, list) else [actions]) if isinstance(a, str))
        condition = statement.get("Condition")
        if not isinstance(condition, dict):
            continue
        for operator, block in condition.items():
            if not isinstance(block, dict):
                continue
            for key, values in block.items():
                for value in values if isinstance(values, list) else [values]:
                    problem = _problem(str(operator), str(key), value, region)
                    if problem:
                        out.append(Finding(name, label, str(operator), str(key), str(value), problem,
                                           str(statement.get("Effect", "")), actions))
    return out


def _problem(operator: str, key: str, value: Any, region: str | None) -> str | None:
    base = operator.split(":")[-1].lower()  # ForAnyValue:StringEquals -> stringequals
    base = base.removesuffix("ifexists")
    text = str(value)
    if base in EXACT and ("*" in text or "?" in text):
        like = {"stringequals": "StringLike", "stringnotequals": "StringNotLike", "arnequals": "ArnLike",
                "arnnotequals": "ArnNotLike"}.get(base, "a ...Like operator")
        return f"{operator} compares literally, so the wildcard never expands (use {like})"
    if base == "bool" and text.lower() not in ("true", "false"):
        return "a Bool condition's value must be true or false"
    lowered = key.lower()
    if lowered == "kms:viaservice" and base.startswith("string") and "*" not in text and "?" not in text:
        return _via_service_problem(text, region)
    prefix = SOURCE_ID_PREFIX.get(lowered)
    if prefix and base.startswith("string") and "*" not in text and not text.startswith(prefix):
        return f"{key} values are {prefix}... ids"
    return None


def _via_service_problem(value: str, region: str | None) -> str | None:
    match = VIA_SERVICE.match(value)
    if not match:
        return "kms:ViaService values have the form <service>.<region>.amazonaws.com"
    named = match["region"]
    if ACCOUNT.match(named):
        return f"it names the account id {named} where the Region belongs"
    if not REGION.match(named):
        return f"{named!r} is not a Region"
    if region and named != region:
        return f"the key is in {region}, and KMS keys are used only through services of their own Region"
    return None


def lint_policies(policies: list[tuple[str, dict[str, Any]]], *, region: str | None = None) -> list[Finding]:
    """lint_policy over (name, document) pairs."""
    return [f for name, document in policies for f in lint_policy(document, name=name, region=region)]


__all__ = ["Finding", "lint_policies", "lint_policy"]
