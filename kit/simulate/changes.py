"""A scenario's history before its failure: the changes someone made days earlier (applied through the API,
recorded in CloudTrail as AWS records them) and the launches that still worked.

Scenario keys (kit/simulate/README.md):

```yaml
changes:                      # in order; each is applied to the simulated account and recorded
  - {days_ago: 3, by: platform-admin, call: "kms:PutKeyPolicy", params: {KeyId: "{{key:app}}", Policy: DOC}}
  - {minutes_after: 8, ...}   # after the failed launch (days_ago / minutes_after count from the launch)
earlier_launches: [{days_ago: 9}]   # successful launches of the same instance by the same launcher
```

`params` are the boto3 parameters (policy documents as mappings); the CloudTrail record's requestParameters
are derived from them as CloudTrail writes them (lowerCamelCase, policy documents as JSON strings, EC2's
newer APIs wrapped in `<Operation>Request`). IAM and STS changes are recorded in us-east-1 (global service
events), Organizations changes in the management account's us-east-1, KMS and EC2 changes in the scenario's
Region. `by` names an administrator user created in the account that makes the change.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from kit.simulate import records
from kit.simulate.clients import Clients
from kit.simulate.placeholders import resolve
from kit.simulate.principals import user_principal
from kit.simulate.records import Principal
from kit.simulate.world import MANAGEMENT_ACCOUNT, world

GLOBAL_REGION = "us-east-1"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TERRAFORM_AGENT = ("APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 "
                   "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1")
DOCUMENT_PARAMS = ("Policy", "PolicyDocument", "Content")
EC2_WRAPPED = ("ModifyEbsDefaultKmsKeyId", "EnableEbsEncryptionByDefault", "ResetEbsDefaultKmsKeyId")
ORGANIZATIONS_KEYS = {"root": "root_id", "ou": "ou_id"}


def apply_changes(clients: Clients, spec: dict[str, Any], account: str, region: str, values: dict[str, str],
                  at: datetime) -> list[dict[str, Any]]:
    """Apply the scenario's `changes` (once per scenario, account and Region; IAM changes once per scenario and
    account: IAM is global, one call serves every Region a spread scenario fails in; Organizations changes once
    per scenario: they are the organization's, whichever account a spread scenario fails in) and return their
    records."""
    w = world()
    marker = (str(spec["name"]), account, region)
    if marker in w.applied_changes or not spec.get("changes"):
        return []
    w.applied_changes.add(marker)
    organization_marker = (str(spec["name"]), MANAGEMENT_ACCOUNT, GLOBAL_REGION)
    organization_done = organization_marker in w.applied_changes
    w.applied_changes.add(organization_marker)
    iam_marker = (str(spec["name"]), account, f"{GLOBAL_REGION}:iam")
    iam_done = iam_marker in w.applied_changes
    w.applied_changes.add(iam_marker)
    values = dict(values, **{f"org:{k}": w.organization.get(v, "") for k, v in ORGANIZATIONS_KEYS.items()})
    out: list[dict[str, Any]] = []
    for change in spec["changes"]:
        service, operation = str(change["call"]).split(":", 1)
        if (service == "organizations" and organization_done) or (service == "iam" and iam_done):
            continue
        params = resolve(change.get("params") or {}, values)
        where = MANAGEMENT_ACCOUNT if service == "organizations" else account
        when = at - timedelta(days=float(change.get("days_ago", 0))) + timedelta(
            minutes=float(change.get("minutes_after", 0)))  # minutes_after: a change after the failed launch
        response = _apply(clients, service, operation, params, where, region)
        if service == "organizations" and operation == "CreatePolicy":
            values[f"scp:{params['Name']}"] = response["Policy"]["PolicySummary"]["Id"]
        by = _admin(clients, str(change.get("by", "platform-admin")), where)
        out.append(change_record(by, service, operation, params, response, _region_of(service, region), when))
    return out


def earlier_launches(spec: dict[str, Any], launch: Any, at: datetime) -> list[dict[str, Any]]:
    """The records of the scenario's earlier, successful launches (same instance, launcher and keys)."""
    out: list[dict[str, Any]] = []
    for earlier in spec.get("earlier_launches") or []:
        when = at - timedelta(days=float(earlier.get("days_ago", 7)))
        out += launch.succeeded().timeline(when)
    return out


def change_record(by: Principal, service: str, operation: str, params: dict[str, Any], response: dict[str, Any],
                  region: str, at: datetime) -> dict[str, Any]:
    """The CloudTrail record of one change call, as the service records it."""
    request_id = records.event_id(operation)
    record: dict[str, Any] = {
        "eventVersion": "1.09" if service == "ec2" else "1.08",
        "userIdentity": by.user_identity(at),
        "eventTime": records.format_time(at),
        "eventSource": f"{service}.amazonaws.com",
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": by.source_ip,
        "userAgent": by.user_agent,
        "requestParameters": request_parameters(service, operation, params),
        "responseElements": response_elements(service, operation, response, request_id),
        "requestID": request_id,
        "eventID": records.event_id(request_id),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": by.account_id,
        "eventCategory": "Management",
        "tlsDetails": dict(records.TLS, clientProvidedHostHeader=_host(service, region)),
    }
    if service == "kms" and params.get("KeyId"):
        key_arn = str(params["KeyId"])
        record["resources"] = [{"accountId": key_arn.split(":")[4], "type": "AWS::KMS::Key", "ARN": key_arn}]
    return record


def request_parameters(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """boto3 parameters as CloudTrail's requestParameters."""
    if service == "ec2" and operation in EC2_WRAPPED:
        inner = {k: v for k, v in params.items()}
        return {f"{operation}Request": inner or ""}
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name in DOCUMENT_PARAMS and isinstance(value, dict):
            value = json.dumps(value, indent=4)
        out[name[0].lower() + name[1:]] = value
    if service == "kms" and operation == "PutKeyPolicy":
        out.setdefault("policyName", "default")
        out.setdefault("bypassPolicyLockoutSafetyCheck", False)
    return out or None


def response_elements(service: str, operation: str, response: dict[str, Any], request_id: str) -> dict[str, Any] | None:
    """The API answer as CloudTrail's responseElements (null for calls that answer nothing)."""
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}
    if service == "ec2" and operation in EC2_WRAPPED:
        inner = {k[0].lower() + k[1:]: v for k, v in body.items()}
        return {f"{operation}Response": dict(inner, xmlns="http://ec2.amazonaws.com/doc/2016-11-15/",
                                             requestId=request_id)}
    if service == "iam" and operation in ("CreatePolicyVersion", "CreatePolicy"):
        return _camel(json.loads(json.dumps(body, default=lambda d: d.strftime("%b %d, %Y %-I:%M:%S %p"))))
    if service == "organizations" and operation in ("CreatePolicy", "EnablePolicyType"):
        return _camel(body)  # MoveAccount, AttachPolicy, DetachPolicy, UpdatePolicy...: null as CloudTrail records
    return None


def _apply(clients: Clients, service: str, operation: str, params: dict[str, Any], account: str,
           region: str) -> dict[str, Any]:
    client = clients(service, account, GLOBAL_REGION if service in ("iam", "organizations") else region)
    call = {k: (json.dumps(v) if k in DOCUMENT_PARAMS and isinstance(v, dict) else v) for k, v in params.items()}
    if service == "kms" and ":key/" in str(call.get("KeyId", "")):
        call["KeyId"] = str(call["KeyId"]).rsplit("/", 1)[-1]  # moto's KMS takes key ids only (AWS takes both)
    snake = "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")
    return dict(getattr(client, snake)(**call))


def _admin(clients: Clients, name: str, account: str) -> Principal:
    return user_principal(clients, {"name": name, "inline_policies": {"administrator": ADMIN_POLICY},
                                    "source_ip": "192.0.2.44", "user_agent": TERRAFORM_AGENT}, account, {})


def _region_of(service: str, region: str) -> str:
    return GLOBAL_REGION if service in ("iam", "sts", "organizations") else region


def _host(service: str, region: str) -> str:
    return f"{service}.amazonaws.com" if service in ("iam", "organizations") else f"{service}.{region}.amazonaws.com"


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {k[0].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value
