"""The read-only guard: the kit's clients refuse every non-read operation before a request leaves the process.

Tried against the simulated account over real HTTP: a hook counting requests about to be sent proves none
was, and the account's state, read back with a plain client, proves nothing changed.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import botocore.session
import pytest

from kit.collect.clients import CallRecorder, ReadOnlyClients, make_session
from kit.collect.live import collect_live
from kit.collect.readonly import allowed_operations, select_operations
from kit.errors import ReadOnlyViolation

READ_VERBS = ("Describe", "Get", "List", "Lookup")


def plain(sim, service: str) -> Any:
    env = sim.environ()
    return boto3.client(service, region_name="eu-west-1", endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])


def world_state(sim, seed) -> dict[str, Any]:
    """What the mutating calls below would change, read with plain (unguarded) clients."""
    ec2, kms, iam = plain(sim, "ec2"), plain(sim, "kms"), plain(sim, "iam")
    key = seed.expected["key_arn"]
    instance = ec2.describe_instances(InstanceIds=[seed.instance_id])["Reservations"][0]["Instances"][0]
    return {
        "instance": instance["State"]["Name"],
        "key": kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"],
        "policy": kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"],
        "grants": kms.list_grants(KeyId=key)["Grants"],
        "user_policies": iam.list_attached_user_policies(UserName="test")["AttachedPolicies"],
        "inline": iam.list_user_policies(UserName="test")["PolicyNames"],
    }


MUTATIONS = [
    ("ec2", "stop_instances", lambda s: {"InstanceIds": [s.instance_id]}),
    ("ec2", "start_instances", lambda s: {"InstanceIds": [s.instance_id]}),
    ("ec2", "terminate_instances", lambda s: {"InstanceIds": [s.instance_id]}),
    ("kms", "create_grant", lambda s: {"KeyId": s.expected["key_arn"], "Operations": ["Decrypt"],
                                       "GranteePrincipal": "arn:aws:iam::123456789012:user/test"}),
    ("kms", "put_key_policy", lambda s: {"KeyId": s.expected["key_arn"], "PolicyName": "default",
                                         "Policy": json.dumps({"Version": "2012-10-17", "Statement": []})}),
    ("kms", "schedule_key_deletion", lambda s: {"KeyId": s.expected["key_arn"], "PendingWindowInDays": 7}),
    ("kms", "disable_key", lambda s: {"KeyId": s.expected["key_arn"]}),
    ("iam", "attach_user_policy", lambda s: {"UserName": "test",
                                             "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    ("iam", "put_user_policy", lambda s: {"UserName": "test", "PolicyName": "kms",
                                          "PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": []})}),
    ("sts", "assume_role", lambda s: {"RoleArn": "arn:aws:iam::123456789012:role/any", "RoleSessionName": "x"}),
    ("cloudtrail", "stop_logging", lambda s: {"Name": "trail"}),
    ("organizations", "detach_policy", lambda s: {"PolicyId": "p-FullAWSAccess", "TargetId": "r-0000"}),
    ("s3", "delete_object", lambda s: {"Bucket": "any", "Key": "any"}),
]


@pytest.mark.parametrize("service, method, params", MUTATIONS, ids=[f"{s}.{m}" for s, m, _ in MUTATIONS])
def test_mutating_operations_never_leave_the_process(sim, sim_env, service, method, params):
    seed = sim.scenario("seed")
    before = world_state(sim, seed)
    clients = ReadOnlyClients(boto3.Session(region_name="eu-west-1"), "eu-west-1")
    client = clients(service)
    sent: list[str] = []
    client.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
    with pytest.raises(ReadOnlyViolation) as refused:
        getattr(client, method)(**params(seed))
    assert "not a read operation" in str(refused.value)
    assert sent == []
    assert clients.recorder.calls == []  # a refused operation is not a call made
    assert world_state(sim, seed) == before
    if service == "ec2":  # the same client still reads
        assert client.describe_instances(InstanceIds=[seed.instance_id])["Reservations"]
        assert len(sent) == 1


def test_the_allow_list_holds_only_real_read_operations():
    session = botocore.session.get_session()
    reads = allowed_operations()
    # operations that run SQL are allowed only with one SELECT (kit.collect.readonly.check_select)
    assert select_operations() == {"athena:StartQueryExecution"}
    assert reads and all(op.split(":", 1)[1].startswith(READ_VERBS) for op in reads - select_operations())
    for op in allowed_operations(credentials=True):
        service, name = op.split(":", 1)
        assert name in session.get_service_model(service).operation_names, op
    assert allowed_operations(credentials=True) - reads == {"sts:AssumeRole"}


def reader_role(sim) -> dict:
    """The account's `kit-collect-reader` role (created on first use), trusted by the account itself."""
    iam = plain(sim, "iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}
    try:
        return iam.get_role(RoleName="kit-collect-reader")["Role"]
    except iam.exceptions.NoSuchEntityException:
        return iam.create_role(RoleName="kit-collect-reader", AssumeRolePolicyDocument=json.dumps(trust))["Role"]


def test_a_role_to_read_with_is_assumed_and_its_credentials_kept_in_memory(sim, sim_env, tmp_path):
    role = reader_role(sim)
    recorder = CallRecorder()
    session = make_session(role_arn=role["Arn"], region="eu-west-1", recorder=recorder)
    seed = sim.scenario("seed")
    evidence = collect_live(seed.instance_id, seed.region, session=session, recorder=recorder)
    assert evidence.collector_arn.startswith("arn:aws:sts::123456789012:assumed-role/kit-collect-reader/")
    assert evidence.calls[0]["operation"] == "sts:AssumeRole"
    assert evidence.calls[0]["params"]["RoleArn"] == role["Arn"]
    frozen = session.get_credentials().get_frozen_credentials()
    text = json.dumps([evidence.documents, evidence.calls, evidence.parameters, [g.to_dict() for g in evidence.gaps]])
    assert frozen.secret_key not in text and frozen.token not in text


def test_an_assumed_role_is_assumed_again_before_its_credentials_expire(sim, sim_env):
    """A long batch or notebook session outlives AssumeRole's credentials: botocore refreshes them by assuming the
    role again (recorded like the first), and the reads go on with the new ones."""
    role = reader_role(sim)
    recorder = CallRecorder()
    session = make_session(role_arn=role["Arn"], region="eu-west-1", recorder=recorder)
    sts = session.client("sts", region_name="eu-west-1")
    first = session.get_credentials().get_frozen_credentials().access_key
    assert sts.get_caller_identity()["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/kit-collect-reader/")
    credentials = session.get_credentials()
    credentials._expiry_time = datetime.now(timezone.utc) - timedelta(seconds=1)  # as if an hour had passed
    identity = sts.get_caller_identity()
    assert identity["Arn"].startswith("arn:aws:sts::123456789012:assumed-role/kit-collect-reader/")
    assert session.get_credentials().get_frozen_credentials().access_key != first
    assert [c["operation"] for c in recorder.calls].count("sts:AssumeRole") == 2
