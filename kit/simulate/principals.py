"""IAM principals of the scenarios: users (inline, managed, group policies, boundary), roles, IAM Identity
Center (SSO) roles and service-linked roles, created through the IAM API and reused when they exist."""

from __future__ import annotations

import hashlib
import json
import secrets
import string
from typing import Any

from botocore.exceptions import ClientError

from kit.simulate.clients import HOME_REGION, Clients
from kit.simulate.placeholders import resolve, tag_list
from kit.simulate.records import Principal


def create_principal(clients: Clients, spec: dict[str, Any], account: str, values: dict[str, str]) -> Principal:
    """The scenario's launcher, created (or reused) in `account`."""
    if spec["type"] == "user":
        return user_principal(clients, spec, account, values)
    return role_principal(clients, spec, account, values)


def user_principal(clients: Clients, spec: dict[str, Any], account: str, values: dict[str, str]) -> Principal:
    """An IAM user with its policies and an access key (created once)."""
    iam = clients("iam", account)
    name = spec["name"]
    try:
        user = iam.get_user(UserName=name)["User"]
        fresh = False
    except ClientError:
        user = iam.create_user(UserName=name, Path=spec.get("path", "/"),
                               **({"Tags": tag_list(spec["tags"])} if spec.get("tags") else {}))["User"]
        fresh = True
    if fresh:
        for policy_name, document in (spec.get("inline_policies") or {}).items():
            iam.put_user_policy(UserName=name, PolicyName=policy_name,
                                PolicyDocument=json.dumps(resolve(document, values)))
        for policy_name, document in (spec.get("managed_policies") or {}).items():
            iam.attach_user_policy(UserName=name,
                                   PolicyArn=managed_policy(clients, account, policy_name, document, values))
        for group_name, group_spec in (spec.get("groups") or {}).items():
            create_group(clients, account, group_name, group_spec or {}, values)
            iam.add_user_to_group(GroupName=group_name, UserName=name)
        if spec.get("boundary"):
            boundary = spec["boundary"]
            iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=managed_policy(
                clients, account, boundary["name"], boundary["document"], values))
        key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    else:
        key = iam.list_access_keys(UserName=name)["AccessKeyMetadata"][0]["AccessKeyId"]
    extra = {k: spec[k] for k in ("source_ip", "user_agent") if spec.get(k)}
    return Principal(kind="user", account_id=account, name=name, arn=user["Arn"], principal_id=user["UserId"],
                     access_key_id=key, **extra)


def role_principal(clients: Clients, spec: dict[str, Any], account: str, values: dict[str, str]) -> Principal:
    """A role session: customer role, IAM Identity Center role, or service-linked role."""
    iam = clients("iam", account)
    kind = spec["type"]
    if kind == "service-linked-role":
        service = spec["service"]
        role = service_linked_role(iam, service)
        session = spec.get("session_name", role["RoleName"].removeprefix("AWSServiceRoleFor"))
        return Principal(kind="role", account_id=account, name=role["RoleName"], arn=role["Arn"],
                         principal_id=role["RoleId"], access_key_id=session_key(), session_name=session,
                         invoked_by=service)
    if kind == "sso-role":
        name, path = sso_role_name(spec["permission_set"], account,
                                   spec.get("identity_center_region", HOME_REGION))
        suffix = name.rsplit("_", 1)[-1]
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
            "Principal": {"Federated": f"arn:aws:iam::{account}:saml-provider/AWSSSO_{suffix}_DO_NOT_DELETE"},
            "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}}]}
    elif spec.get("web_identity"):
        name = spec["name"]
        path = spec.get("path", "/")
        provider = resolve(str(spec["web_identity"]), values)
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {"Federated": provider}}]}
    else:
        name = spec["name"]
        path = spec.get("path", "/")
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"Service": spec.get("trusted_service", "ec2.amazonaws.com")}}]}
    if spec.get("trust_policy"):
        trust = resolve(spec["trust_policy"], values)
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError:
        role = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(trust),
                               Description=spec.get("description", ""), MaxSessionDuration=3600,
                               **({"Tags": tag_list(spec["tags"])} if spec.get("tags") else {}))["Role"]
        for policy_name, document in (spec.get("inline_policies") or {}).items():
            iam.put_role_policy(RoleName=name, PolicyName=policy_name,
                                PolicyDocument=json.dumps(resolve(document, values)))
        for policy_name, document in (spec.get("managed_policies") or {}).items():
            iam.attach_role_policy(RoleName=name,
                                   PolicyArn=managed_policy(clients, account, policy_name, document, values))
        if spec.get("boundary"):
            boundary = spec["boundary"]
            iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=managed_policy(
                clients, account, boundary["name"], boundary["document"], values))
    extra = {k: resolve(spec[k], values) if isinstance(spec[k], str) else spec[k]
             for k in ("source_ip", "user_agent", "console", "web_identity", "invoked_by") if spec.get(k)}
    return Principal(kind="role", account_id=account, name=name, arn=role["Arn"], principal_id=role["RoleId"],
                     access_key_id=session_key(), session_name=spec.get("session_name", name), **extra)


def service_linked_role(iam: Any, service: str) -> dict[str, Any]:
    """The service's service-linked role (created once)."""
    name = f"AWSServiceRoleFor{SERVICE_LINKED_ROLES[service]}"
    try:
        return iam.get_role(RoleName=name)["Role"]
    except ClientError:
        role: dict[str, Any] = iam.create_service_linked_role(AWSServiceName=service)["Role"]
    if role["RoleName"] == name:
        return role
    # moto names the roles of services it does not know AWSServiceRoleFor<service prefix>: AWS's name instead
    iam.delete_role(RoleName=role["RoleName"])
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"Service": service}}]}
    created: dict[str, Any] = iam.create_role(RoleName=name, Path=f"/aws-service-role/{service}/",
                                              AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    return created


def managed_policy(clients: Clients, account: str, name: str, document: dict[str, Any],
                   values: dict[str, str]) -> str:
    """A customer managed policy's ARN (created once)."""
    iam = clients("iam", account)
    arn = f"arn:aws:iam::{account}:policy/{name}"
    try:
        iam.get_policy(PolicyArn=arn)
    except ClientError:
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(resolve(document, values)))
    return arn


def create_group(clients: Clients, account: str, name: str, spec: dict[str, Any], values: dict[str, str]) -> None:
    """An IAM group with its policies (created once)."""
    iam = clients("iam", account)
    try:
        iam.get_group(GroupName=name)
        return
    except ClientError:
        iam.create_group(GroupName=name)
    for policy_name, document in (spec.get("inline_policies") or {}).items():
        iam.put_group_policy(GroupName=name, PolicyName=policy_name,
                             PolicyDocument=json.dumps(resolve(document, values)))
    for policy_name, document in (spec.get("managed_policies") or {}).items():
        iam.attach_group_policy(GroupName=name,
                                PolicyArn=managed_policy(clients, account, policy_name, document, values))


SERVICE_LINKED_ROLES = {"autoscaling.amazonaws.com": "AutoScaling", "spot.amazonaws.com": "EC2Spot",
                        "ec2fleet.amazonaws.com": "EC2Fleet", "spotfleet.amazonaws.com": "EC2SpotFleet",
                        "batch.amazonaws.com": "Batch", "imagebuilder.amazonaws.com": "ImageBuilder"}


def principal_arn_for(spec: dict[str, Any], account: str, region: str) -> str:
    """The IAM ARN a scenario's principal gets (users and roles keep their path in the ARN)."""
    kind = spec["type"]
    if kind == "user":
        return f"arn:aws:iam::{account}:user{spec.get('path', '/')}{spec['name']}"
    if kind == "service-linked-role":
        service = spec["service"]
        return (f"arn:aws:iam::{account}:role/aws-service-role/{service}/"
                f"AWSServiceRoleFor{SERVICE_LINKED_ROLES[service]}")
    if kind == "sso-role":
        name, path = sso_role_name(spec["permission_set"], account, spec.get("identity_center_region", HOME_REGION))
        return f"arn:aws:iam::{account}:role{path}{name}"
    return f"arn:aws:iam::{account}:role{spec.get('path', '/')}{spec['name']}"


def sso_role_name(permission_set: str, account: str, region: str) -> tuple[str, str]:
    """(role name, path) IAM Identity Center gives a permission set's role in an account."""
    suffix = hashlib.sha256(f"{account}/{permission_set}".encode()).hexdigest()[:16]
    return f"AWSReservedSSO_{permission_set}_{suffix}", f"/aws-reserved/sso.amazonaws.com/{region}/"


def session_key() -> str:
    """A temporary-credential access key id (ASIA...)."""
    return "ASIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))
