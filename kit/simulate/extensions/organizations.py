"""Organizations reads, and SCP updates, from a member account: served from the management account (the members
are delegated administrators for policy management; moto answers only the management account)."""

from __future__ import annotations

from kit.simulate import moto_state
from kit.simulate.extensions.context import Context, Handler
from kit.simulate.wire import Request, Response

READS = ("ListRoots", "ListParents", "ListChildren", "ListPoliciesForTarget", "DescribePolicy", "ListPolicies",
         "ListTargetsForPolicy", "DescribeAccount", "ListAccounts", "ListOrganizationalUnitsForParent",
         "DescribeOrganizationalUnit", "ListAccountsForParent")


def read_as_management_account(request: Request, context: Context) -> Response:
    """moto's answer as the caller's management account gives it (the caller's own if it has none)."""
    return context.forward(request, account=moto_state.management_account_of(request.account))


# Policy management a delegated administrator may do (Organizations' resource-based delegation policy).
POLICY_MANAGEMENT = ("UpdatePolicy",)

HANDLERS: dict[str, Handler] = dict.fromkeys(READS + POLICY_MANAGEMENT, read_as_management_account)
