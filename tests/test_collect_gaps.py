"""Gaps, not crashes: AccessDenied on each read operation in turn leaves one gap naming it, and nothing else
is lost (except what only that call could reveal, e.g. the OU above the account when ListParents is refused).

Permissions are enforced by moto's own IAM authentication in server mode (`/moto-api/reset-auth`, the
server-side INITIAL_NO_AUTH_ACTION_COUNT): the collector is an IAM user of the simulated account whose
identity policy allows every read operation of the allow-list but one.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
import boto3
import pytest

from kit.collect.live import collect_live
from kit.collect.readonly import allowed_operations
from kit.evidence import Evidence

# every operation the seed's collection makes (sts:GetCallerIdentity cannot be denied, in AWS or moto)
DENIED_IN_TURN = [
    "ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:GetEbsEncryptionByDefault", "ec2:GetEbsDefaultKmsKeyId",
    "kms:ListAliases", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants",
    "iam:GetAccountAuthorizationDetails", "cloudtrail:LookupEvents",
    "organizations:ListParents", "organizations:ListPoliciesForTarget", "organizations:DescribePolicy",
]
# documents only the denied call could lead to (their ids come from its answer)
DEPENDENT = {
    "organizations:ListParents": ("organizations.list-parents.", "organizations.list-policies-for-target.",
                                  "organizations.describe-policy."),
    "organizations:ListPoliciesForTarget": ("organizations.describe-policy.",),
}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


def producing_operation(document: str) -> str:
    """`kms.get-key-policy.<id>.json` -> `kms:GetKeyPolicy`."""
    service, operation = document.split(".")[:2]
    return f"{service}:{''.join(part.capitalize() for part in operation.split('-'))}"


def set_auth(endpoint: str, free_requests: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=free_requests.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


@contextmanager
def authenticated(sim) -> Iterator[None]:
    """moto checks every request's signature and IAM permissions inside the block."""
    set_auth(sim.endpoint_url, "0")
    try:
        yield
    finally:
        set_auth(sim.endpoint_url, "inf")


def collector(sim, name: str, denied: str | None) -> boto3.Session:
    """An IAM user allowed every read operation of the allow-list except `denied`; its session."""
    env = sim.environ()
    iam = boto3.client("iam", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                       aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    actions = sorted(op for op in allowed_operations() if op != denied)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="reads", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                         region_name="eu-west-1")


def collect_as(sim, name: str, denied: str | None) -> Evidence:
    session = collector(sim, name, denied)
    seed = sim.scenario("seed")
    with authenticated(sim):
        return collect_live(seed.instance_id, seed.region, session=session)


@pytest.fixture(scope="module")
def endpoint(sim) -> Iterator[str]:
    """The collector's sessions reach the simulator (for this module's tests only)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", sim.endpoint_url)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield sim.endpoint_url


@pytest.fixture(scope="module")
def baseline(sim, endpoint) -> Evidence:
    return collect_as(sim, "kit-collector-all", None)


def test_an_authenticated_collector_with_every_read_permission_loses_nothing(baseline):
    denied = [g for g in baseline.gaps if g.error in DENIED_CODES]
    assert denied == []
    assert baseline.collector_arn == "arn:aws:iam::123456789012:user/kit-collector-all"
    made = {c["operation"] for c in baseline.calls} - {"sts:GetCallerIdentity"}
    assert made <= set(DENIED_IN_TURN)


@pytest.mark.parametrize("denied", DENIED_IN_TURN)
def test_access_denied_on_one_read_leaves_one_gap_and_loses_nothing_else(sim, endpoint, baseline, denied):
    name = "kit-collector-no-" + denied.replace(":", "-").lower()
    evidence = collect_as(sim, name, denied)
    gaps = [g for g in evidence.gaps if g.error in DENIED_CODES]
    assert gaps, f"no gap for {denied}: {evidence.gaps}"
    assert {g.call for g in gaps} == {denied}
    for gap in gaps:
        assert gap.impact and gap.next_step.startswith("aws " + denied.split(":")[0] + " ")
    lost = set(baseline.documents) - set(evidence.documents)
    explained = [n for n in lost if producing_operation(n) == denied or n.startswith(DEPENDENT.get(denied, ()))]
    assert sorted(lost) == sorted(explained)
    assert {c["operation"] for c in evidence.calls} >= {c["operation"] for c in baseline.calls} - \
        ({"organizations:ListPoliciesForTarget", "organizations:DescribePolicy"}
         if denied in DEPENDENT else set())
