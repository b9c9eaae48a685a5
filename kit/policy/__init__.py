"""kit.policy: the offline IAM and KMS authorization evaluator (pure Python, no AWS calls).

    from kit.policy import Policy, PolicySet, Grant, Request, Decision, evaluate, what_if, parse_policy

See kit/policy/README.md for the rules it follows and their sources.
"""

from __future__ import annotations

from kit.policy.document import Policy, Statement, parse_policy
from kit.policy.evaluate import evaluate
from kit.policy.model import Decision, Grant, PolicySet, Request, WhatIf
from kit.policy.whatif import what_if

__all__ = ["Decision", "Grant", "Policy", "PolicySet", "Request", "Statement", "WhatIf", "evaluate", "parse_policy",
           "what_if"]
