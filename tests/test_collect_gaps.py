"""Gaps, not crashes: AccessDenied on each read operation in turn leaves one gap naming it, and nothing else
is lost (except what only that call could reveal, e.g. the OU above the account when ListParents is refused).

Permissions are enforced by moto's own IAM authentication in server mode (`/moto-api/reset-auth`, the
server-side INITIAL_NO_AUTH_ACTION_COUNT): the collector is an IAM user of the simulated account whose
identity policy allows every read operation of the allow-list but one.

Some calls do not pass through moto's authentication in the simulator: LookupEvents and
GetEbsDefaultKmsKeyId (answered by the simulator's own extensions) and Organizations reads (routed to the management account, where the member's
access key is unknown). For those, AWS's AccessDenied answer (the JSON error body AWS sends) is returned to
the kit's client at the HTTP layer instead of sending the request; everything else still goes over HTTP.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from kit.collect.live import collect_live
from kit.collect.readonly import allowed_operations
from kit.evidence import Evidence

# every operation the seed's collection makes (sts:GetCallerIdentity cannot be denied, in AWS or moto), and
# the EBS defaults, read for a launch whose volumes are gone (scenario default-ebs-key)
ENFORCED_BY_MOTO = [
    "ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:GetEbsEncryptionByDefault", "kms:ListAliases", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants", "iam:GetAccountAuthorizationDetails",
]
ANSWERED_AT_HTTP = ["ec2:GetEbsDefaultKmsKeyId", "cloudtrail:LookupEvents", "organizations:ListParents", "organizations:ListPoliciesForTarget",
                    "organizations:DescribePolicy", "cloudtrail:DescribeTrails", "cloudtrail:GetEventSelectors"]
# documents only the denied call could lead to (their ids come from its answer); what replaces them
DEPENDENT = {
    "organizations:ListParents": ("organizations.list-parents.", "organizations.list-policies-for-target.",
                                  "organizations.describe-policy."),
    "organizations:ListPoliciesForTarget": ("organizations.describe-policy.",),
    "cloudtrail:DescribeTrails": ("cloudtrail.get-event-selectors.",),
    # without volumes the key is found from KMS's events instead: cloudtrail.lookup-events.kms.json
    "ec2:DescribeVolumes": ("cloudtrail.lookup-events.",),
    # without the default key's id, the key is found from KMS's events the same way
    "ec2:GetEbsDefaultKmsKeyId": ("cloudtrail.lookup-events.",),
}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


def producing_operation(document: str) -> str:
    """`kms.get-key-policy.<id>.json` -> `kms:GetKeyPolicy`."""
    service, operation = document.split(".")[:2]
    return f"{service}:{''.join(part.capitalize() for part in operation.split('-'))}"


def set_auth(endpoint: str, free_requests: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=free_requests.encode(), method="POST",
                                     headers={"Content-Type": "text/plain"})
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


def scenario_for(denied: str | None) -> str:
    return "default-ebs-key" if denied and "Ebs" in denied else "seed"


def collect_as(sim, name: str, denied: str | None, scenario: str = "seed") -> Evidence:
    session = collector(sim, name, denied)
    seed = sim.scenario(scenario)
    with authenticated(sim):
        return collect_live(seed.instance_id, seed.region, session=session)


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: object) -> Iterator[bytes]:
        yield self.body


def collect_answering_denied(sim, denied: str, scenario: str = "seed") -> Evidence:
    """Collect as the simulator's default identity; `denied` gets AWS's AccessDenied answer, unsent."""
    env = sim.environ()
    session = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="eu-west-1")
    service, operation = denied.split(":")
    message = (f"User: arn:aws:iam::123456789012:user/collector is not authorized to perform: {denied} "
               f"because no identity-based policy allows the {denied} action")
    if service == "ec2":  # EC2's query protocol answers in XML
        status, content_type = 403, "text/xml;charset=UTF-8"
        body = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>UnauthorizedOperation"
                f"</Code><Message>You are not authorized to perform this operation. {message}</Message></Error>"
                f"</Errors><RequestID>5f1d3c9e-0000-4000-8000-000000000000</RequestID></Response>").encode()
    else:
        status, content_type = 400, "application/x-amz-json-1.1"
        body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()

    def refuse(request, **_: object) -> AWSResponse:
        return AWSResponse(request.url, status, {"Content-Type": content_type}, _Body(body))

    session.events.register(f"before-send.{service}.{operation}", refuse)
    seed = sim.scenario(scenario)
    return collect_live(seed.instance_id, seed.region, session=session)


@pytest.fixture(scope="module")
def endpoint(sim) -> Iterator[str]:
    """The collector's sessions reach the simulator (for this module's tests only)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", sim.endpoint_url)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield sim.endpoint_url


@pytest.fixture(scope="module")
def baselines(sim, endpoint) -> dict[str, Evidence]:
    """Per scenario: an authenticated collector with every read permission."""
    return {name: collect_as(sim, f"kit-collector-all-{name}", None, name) for name in ("seed", "default-ebs-key")}


@pytest.fixture(scope="module")
def baseline(baselines) -> Evidence:
    return baselines["seed"]


@pytest.fixture(scope="module")
def plain_baselines(sim, endpoint) -> dict[str, Evidence]:
    """Per scenario: the simulator's default identity, nothing refused."""
    env = sim.environ()
    out = {}
    for name in ("seed", "default-ebs-key"):
        seeded = sim.scenario(name)
        session = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name="eu-west-1")
        out[name] = collect_live(seeded.instance_id, seeded.region, session=session)
    return out


@pytest.fixture(scope="module")
def plain_baseline(plain_baselines) -> Evidence:
    return plain_baselines["seed"]


def test_an_authenticated_collector_with_every_read_permission_is_refused_nothing(baseline, plain_baseline):
    assert [g for g in baseline.gaps if g.error in DENIED_CODES] == []
    assert baseline.collector_arn == "arn:aws:iam::123456789012:user/kit-collector-all-seed"
    made = {c["operation"] for c in plain_baseline.calls} - {"sts:GetCallerIdentity"}
    assert made <= set(ENFORCED_BY_MOTO + ANSWERED_AT_HTTP)
    assert [g for g in plain_baseline.gaps if g.error in DENIED_CODES] == []


def assert_one_gap_nothing_else_lost(evidence: Evidence, baseline: Evidence, denied: str) -> None:
    gaps = [g for g in evidence.gaps if g.error in DENIED_CODES]
    assert gaps, f"no gap for {denied}: {evidence.gaps}"
    assert {g.call for g in gaps} == {denied}
    for gap in gaps:
        assert gap.impact and gap.next_step.startswith("aws " + denied.split(":")[0] + " ")
        assert denied in gap.impact  # the refusal's message, naming the permission
    lost = set(baseline.documents) - set(evidence.documents)
    explained = [n for n in lost if producing_operation(n) == denied or n.startswith(DEPENDENT.get(denied, ()))]
    assert sorted(lost) == sorted(explained)
    if denied in ("ec2:DescribeVolumes", "ec2:GetEbsDefaultKmsKeyId"):
        assert "cloudtrail.lookup-events.kms.json" in evidence.documents
        assert {n for n in baseline.documents if n.startswith("kms.")} <= set(evidence.documents)


@pytest.mark.parametrize("denied", ENFORCED_BY_MOTO)
def test_access_denied_by_iam_leaves_one_gap_and_loses_nothing_else(sim, endpoint, baselines, denied):
    name = "kit-collector-no-" + denied.replace(":", "-").lower()
    scenario = scenario_for(denied)
    assert denied in {c["operation"] for c in baselines[scenario].calls}
    assert_one_gap_nothing_else_lost(collect_as(sim, name, denied, scenario), baselines[scenario], denied)


@pytest.mark.parametrize("denied", ANSWERED_AT_HTTP)
def test_access_denied_answers_leave_one_gap_and_lose_nothing_else(sim, endpoint, plain_baselines, denied):
    scenario = scenario_for(denied)
    assert denied in {c["operation"] for c in plain_baselines[scenario].calls}
    assert_one_gap_nothing_else_lost(collect_answering_denied(sim, denied, scenario), plain_baselines[scenario],
                                     denied)
