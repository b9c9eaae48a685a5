"""CloudTrail records as AWS writes them for a launch, EC2's KMS calls on the launcher's behalf, and noise.

Field sets follow real records (see shared/data/cloudtrail/invictus-ir): EC2 records are eventVersion 1.09
with tlsDetails, KMS records made by EC2 are 1.08 with `invokedBy` and an EC2 front end as source.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kit.simulate.trail import format_time

EC2_FRONT_END = "ec2-frontend-api.amazonaws.com"
TLS = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"}


@dataclass(frozen=True)
class Principal:
    """Who made a call: an IAM user, or a role session (customer, SSO, or service-linked role)."""

    kind: str                 # "user" | "role"
    account_id: str
    name: str                 # user or role name
    arn: str                  # the IAM ARN (user or role)
    principal_id: str         # AIDA... or AROA...
    access_key_id: str        # AKIA... or ASIA...
    session_name: str = ""    # role sessions only
    source_ip: str = "203.0.113.24"
    user_agent: str = "aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8"
    invoked_by: str = ""      # a service calling as this principal (e.g. autoscaling.amazonaws.com)
    console: bool = False     # a console session (CloudTrail adds sessionCredentialFromConsole)
    web_identity: str = ""    # the OIDC provider of an AssumeRoleWithWebIdentity session (EKS IRSA, CI runners)

    @property
    def caller_arn(self) -> str:
        """The ARN AWS names in errors and userIdentity.arn: the user, or the assumed-role session."""
        if self.kind == "user":
            return self.arn
        return f"arn:aws:sts::{self.account_id}:assumed-role/{self.name}/{self.session_name}"

    def user_identity(self, at: datetime) -> dict[str, Any]:
        """CloudTrail's userIdentity block for a call made at `at`."""
        if self.kind == "user":
            return {"type": "IAMUser", "principalId": self.principal_id, "arn": self.arn,
                    "accountId": self.account_id, "accessKeyId": self.access_key_id, "userName": self.name}
        identity: dict[str, Any] = {
            "type": "AssumedRole",
            "principalId": f"{self.principal_id}:{self.session_name}",
            "arn": self.caller_arn,
            "accountId": self.account_id,
            "accessKeyId": self.access_key_id,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": self.principal_id, "arn": self.arn,
                                  "accountId": self.account_id, "userName": self.name},
                "webIdFederationData": ({"federatedProvider": self.web_identity, "attributes": {}}
                                        if self.web_identity else {}),
                "attributes": {"creationDate": format_time(at.replace(minute=0, second=0)),
                               "mfaAuthenticated": "false"},
            },
        }
        if self.invoked_by:
            identity["invokedBy"] = self.invoked_by
        return identity

    def source(self) -> tuple[str, str]:
        """(sourceIPAddress, userAgent) of this principal's own calls."""
        if self.invoked_by:
            return self.invoked_by, self.invoked_by
        return self.source_ip, self.user_agent


def event_id(_kind: str = "") -> str:
    """A fresh event or request id, in the uuid4 form CloudTrail uses."""
    return str(uuid.uuid4())


def ec2_call(principal: Principal, name: str, region: str, at: datetime, request: dict[str, Any],
             response: dict[str, Any] | None, read_only: bool = False,
             error: tuple[str, str] | None = None) -> dict[str, Any]:
    """A record of an EC2 API call made by `principal` itself."""
    ip, agent = principal.source()
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": principal.user_identity(at),
        "eventTime": format_time(at),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": ip,
        "userAgent": agent,
    }
    if error:
        record["errorCode"], record["errorMessage"] = error
    request_id = event_id(name)
    record.update({
        "requestParameters": request,
        "responseElements": dict(response, requestId=request_id) if response is not None else None,
        "requestID": request_id,
        "eventID": event_id(request_id),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": principal.account_id,
        "eventCategory": "Management",
    })
    if not principal.invoked_by:
        record["tlsDetails"] = dict(TLS, clientProvidedHostHeader=f"ec2.{region}.amazonaws.com")
    if principal.console:
        record["sessionCredentialFromConsole"] = "true"
    return record


def start_instances(principal: Principal, region: str, at: datetime, instance_id: str) -> dict[str, Any]:
    """StartInstances as AWS logs it for a stopped instance: no error, currentState pending."""
    return ec2_call(principal, "StartInstances", region, at,
                    {"instancesSet": {"items": [{"instanceId": instance_id}]}},
                    {"instancesSet": {"items": [{"instanceId": instance_id,
                                                 "currentState": {"code": 0, "name": "pending"},
                                                 "previousState": {"code": 80, "name": "stopped"}}]}})


def stop_instances(principal: Principal, region: str, at: datetime, instance_id: str) -> dict[str, Any]:
    """StopInstances on a running instance: currentState stopping."""
    return ec2_call(principal, "StopInstances", region, at,
                    {"instancesSet": {"items": [{"instanceId": instance_id}]}, "force": False},
                    {"instancesSet": {"items": [{"instanceId": instance_id,
                                                 "currentState": {"code": 64, "name": "stopping"},
                                                 "previousState": {"code": 16, "name": "running"}}]}})


def run_instances(principal: Principal, region: str, at: datetime, instance_id: str, image_id: str,
                  instance_type: str, reservation_id: str, block_devices: list[dict[str, Any]],
                  launch_template: dict[str, str] | None = None) -> dict[str, Any]:
    """RunInstances as AWS logs it: accepted, the instance pending. With a launch template, the request names
    the template (its block device mappings are in the template, not the request)."""
    mapping = [] if launch_template else _request_mappings(block_devices)
    request: dict[str, Any] = {
        "instancesSet": {"items": [{"imageId": image_id, "minCount": 1, "maxCount": 1}]},
        "instanceType": instance_type,
        "blockDeviceMapping": {"items": mapping} if mapping else {},
        "monitoring": {"enabled": False},
        "disableApiTermination": False,
        "disableApiStop": False,
        "clientToken": str(uuid.uuid4()),
    }
    if launch_template:
        request["launchTemplate"] = {"launchTemplateId": launch_template["id"],
                                     "version": launch_template["version"]}
    response = {"reservationId": reservation_id, "ownerId": principal.account_id, "groupSet": {},
                "instancesSet": {"items": [{"instanceId": instance_id, "imageId": image_id,
                                            "instanceState": {"code": 0, "name": "pending"},
                                            "instanceType": instance_type, "amiLaunchIndex": 0}]}}
    return ec2_call(principal, "RunInstances", region, at, request, response)


def _request_mappings(block_devices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"deviceName": d["device"],
             "ebs": {k: v for k, v in (("volumeSize", d.get("size")), ("encrypted", d.get("encrypted")),
                                       ("kmsKeyId", d.get("request_key_id")),
                                       ("deleteOnTermination", True)) if v is not None}}
            for d in block_devices if d.get("in_request", True)]


def create_fleet(principal: Principal, region: str, at: datetime, instance_id: str | None, fleet_id: str,
                 launch_template: dict[str, str], instance_type: str,
                 errors: tuple[dict[str, str], ...] = ()) -> dict[str, Any]:
    """CreateFleet of type instant as CloudTrail logs it (the query API's CreateFleetRequest /
    CreateFleetResponse wrappers): the launched instance in fleetInstanceSet (none when `instance_id` is None),
    and an errorSet item per override that launched nothing (`errors`: code, message, instance_type), empty
    when there are none."""
    spec = {"LaunchTemplateId": launch_template["id"], "Version": launch_template["version"]}
    types = [instance_type] * (instance_id is not None) + [e["instance_type"] for e in errors]
    error_items = [{"launchTemplateAndOverrides": {
        "launchTemplateSpecification": {"launchTemplateId": launch_template["id"],
                                        "version": launch_template["version"]},
        "overrides": {"instanceType": e["instance_type"]}},
        "lifecycle": "on-demand", "errorCode": e["code"], "errorMessage": e["message"]} for e in errors]
    request = {"CreateFleetRequest": {
        "Type": "instant",
        "TargetCapacitySpecification": {"TotalTargetCapacity": 1, "DefaultTargetCapacityType": "on-demand"},
        "OnDemandOptions": {"AllocationStrategy": "lowest-price"},
        "LaunchTemplateConfigs": {"LaunchTemplateSpecification": spec,
                                  "Overrides": [{"InstanceType": t, "tag": i + 1} for i, t in enumerate(types)],
                                  "tag": 1},
        "TagSpecification": {"ResourceType": "fleet", "Tag": [{"Key": "kit:launch", "Value": "fleet", "tag": 1}],
                             "tag": 1},
    }}
    response = {"CreateFleetResponse": {
        "xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
        "requestId": event_id("CreateFleet"),
        "fleetId": fleet_id,
        "errorSet": {"item": error_items} if error_items else "",
        "fleetInstanceSet": {"item": [{
            "launchTemplateAndOverrides": {"launchTemplateSpecification": {
                "launchTemplateId": launch_template["id"], "version": launch_template["version"]},
                "overrides": {"instanceType": instance_type}},
            "lifecycle": "on-demand",
            "instanceIds": {"item": [instance_id]},
            "instanceType": instance_type}]} if instance_id is not None else "",
    }}
    return ec2_call(principal, "CreateFleet", region, at, request, response)


def request_spot_instances(principal: Principal, region: str, at: datetime, spot_request_id: str, image_id: str,
                           instance_type: str, block_devices: list[dict[str, Any]]) -> dict[str, Any]:
    """RequestSpotInstances as CloudTrail logs it: the request opened (the instance comes later, launched by
    the Spot service-linked role; DescribeInstances ties it back with SpotInstanceRequestId)."""
    mapping = _request_mappings(block_devices)
    request = {"instanceCount": 1, "type": "one-time",
               "launchSpecification": {"imageId": image_id, "instanceType": instance_type,
                                       "blockDeviceMapping": {"items": mapping} if mapping else {}}}
    response = {"spotInstanceRequestSet": {"items": [{
        "spotInstanceRequestId": spot_request_id, "spotPrice": "0.0416", "type": "one-time", "state": "open",
        "status": {"code": "pending-evaluation", "updateTime": at.strftime("%b %d, %Y, %I:%M:%S %p"),
                   "message": "Your Spot request has been submitted for review, and is pending evaluation."},
        "launchSpecification": {"imageId": image_id, "instanceType": instance_type},
        "createTime": at.strftime("%b %d, %Y, %I:%M:%S %p"), "productDescription": "Linux/UNIX",
        "instanceInterruptionBehavior": "terminate"}]}}
    return ec2_call(principal, "RequestSpotInstances", region, at, request, response)


def request_spot_fleet(principal: Principal, region: str, at: datetime, fleet_request_id: str,
                       launch_template: dict[str, str] | None, instance_type: str, fleet_role_arn: str,
                       image_id: str = "", block_devices: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """RequestSpotFleet as CloudTrail logs it (the query API's RequestSpotFleetRequest / RequestSpotFleetResponse
    wrappers, capitalised members): a one-time request with the fleet's IAM role (IamFleetRole, e.g.
    aws-ec2-spot-fleet-tagging-role), from a launch template or from launch specifications carrying the block
    device mappings; the instances come later, launched by the Spot Fleet service-linked role and tagged
    aws:ec2spot:fleet-request-id."""
    config: dict[str, Any] = {
        "IamFleetRole": fleet_role_arn,
        "AllocationStrategy": "capacityOptimized",
        "TargetCapacity": 1,
        "Type": "request",
        "TerminateInstancesWithExpiration": True,
    }
    if launch_template:
        spec = {"LaunchTemplateId": launch_template["id"], "Version": launch_template["version"]}
        config["LaunchTemplateConfigs"] = {"LaunchTemplateSpecification": spec,
                                           "Overrides": [{"InstanceType": instance_type, "tag": 1}], "tag": 1}
    else:
        mappings = [{"DeviceName": m["deviceName"], "Ebs": {k[0].upper() + k[1:]: v for k, v in m["ebs"].items()},
                     "tag": i + 1} for i, m in enumerate(_request_mappings(block_devices or []))]
        config["LaunchSpecifications"] = {"ImageId": image_id, "InstanceType": instance_type,
                                          "BlockDeviceMapping": mappings, "tag": 1}
    request = {"RequestSpotFleetRequest": {"SpotFleetRequestConfig": config}}
    response = {"RequestSpotFleetResponse": {"xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
                                             "requestId": event_id("RequestSpotFleet"),
                                             "spotFleetRequestId": fleet_request_id}}
    return ec2_call(principal, "RequestSpotFleet", region, at, request, response)


def modify_ebs_default_kms_key_id(principal: Principal, region: str, at: datetime, key_arn: str) -> dict[str, Any]:
    """ModifyEbsDefaultKmsKeyId: the Region's default EBS key set to `key_arn`."""
    return ec2_call(principal, "ModifyEbsDefaultKmsKeyId", region, at,
                    {"ModifyEbsDefaultKmsKeyIdRequest": {"KmsKeyId": key_arn}},
                    {"ModifyEbsDefaultKmsKeyIdResponse": {"xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
                                                          "requestId": event_id(), "kmsKeyId": key_arn}})


def enable_ebs_encryption_by_default(principal: Principal, region: str, at: datetime) -> dict[str, Any]:
    """EnableEbsEncryptionByDefault."""
    return ec2_call(principal, "EnableEbsEncryptionByDefault", region, at,
                    {"EnableEbsEncryptionByDefaultRequest": ""},
                    {"EnableEbsEncryptionByDefaultResponse": {"xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
                                                              "requestId": event_id(),
                                                              "ebsEncryptionByDefault": True}})


def describe(principal: Principal, name: str, region: str, at: datetime) -> dict[str, Any]:
    """A read-only Describe* call (noise)."""
    request: dict[str, Any] = {"instancesSet": {}, "filterSet": {}} if name == "DescribeInstances" else {"volumeSet": {}, "filterSet": {}}
    return ec2_call(principal, name, region, at, request, None, read_only=True)


def kms_by_ec2(principal: Principal, operation: str, region: str, at: datetime, key_arn: str,
               instance_id: str, volume_id: str, error: tuple[str, str] | None) -> dict[str, Any]:
    """A KMS call EC2 makes as the launcher (CreateGrant, GenerateDataKeyWithoutPlaintext), invokedBy EC2."""
    identity = principal.user_identity(at)
    identity["invokedBy"] = "ec2.amazonaws.com"
    grantee = infrastructure_role_arn(principal.account_id, instance_id)
    if operation == "CreateGrant":
        request: dict[str, Any] = {
            "keyId": key_arn,
            "granteePrincipal": grantee,
            "retiringPrincipal": f"ec2.{region}.amazonaws.com",
            "operations": ["Decrypt"],
            "constraints": {"encryptionContextSubset": {"aws:ebs:id": volume_id}},
        }
        response = None if error else {"grantId": hashlib.sha256(f"{key_arn}{volume_id}".encode()).hexdigest(),
                                       "keyId": key_arn}
    else:
        request = {"keyId": key_arn, "encryptionContext": {"aws:ebs:id": volume_id}, "numberOfBytes": 64}
        response = None
    return _kms_record(identity, operation, region, at, request, response, key_arn, principal.account_id,
                       error, read_only=operation != "CreateGrant", source=EC2_FRONT_END)


def kms_by_infrastructure(account_id: str, operation: str, region: str, at: datetime, key_arn: str,
                          instance_id: str, volume_id: str, error: tuple[str, str] | None) -> dict[str, Any]:
    """A KMS call (Decrypt) made by the instance's hidden role aws:ec2-infrastructure."""
    role_arn = f"arn:aws:iam::{account_id}:role/aws:ec2-infrastructure"
    role_id = "AROA" + hashlib.sha256(role_arn.encode()).hexdigest()[:17].upper()
    identity = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{instance_id}",
        "arn": infrastructure_role_arn(account_id, instance_id),
        "accountId": account_id,
        "accessKeyId": "ASIA" + hashlib.sha256(f"{instance_id}{at}".encode()).hexdigest()[:16].upper(),
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn, "accountId": account_id,
                              "userName": "aws:ec2-infrastructure"},
            "webIdFederationData": {},
            "attributes": {"creationDate": format_time(at), "mfaAuthenticated": "false"},
        },
        "invokedBy": "ec2.amazonaws.com",
    }
    request = {"encryptionContext": {"aws:ebs:id": volume_id}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    return _kms_record(identity, operation, region, at, request, None, key_arn, account_id, error,
                       read_only=True, source="ec2.amazonaws.com")


def service_assume_role(account_id: str, region: str, at: datetime, role_arn: str, service: str,
                        session_name: str) -> dict[str, Any]:
    """sts:AssumeRole by an AWS service into its service-linked role (userIdentity type AWSService)."""
    request_id = event_id("AssumeRole")
    return {
        "eventVersion": "1.08",
        "userIdentity": {"type": "AWSService", "invokedBy": service},
        "eventTime": format_time(at),
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": region,
        "sourceIPAddress": service,
        "userAgent": service,
        "requestParameters": {"roleArn": role_arn, "roleSessionName": session_name},
        "responseElements": {"credentials": {"accessKeyId": "ASIA" + request_id.replace("-", "")[:16].upper(),
                                             "sessionToken": "<redacted>", "expiration": format_time(at)}},
        "requestID": request_id,
        "eventID": event_id(request_id),
        "readOnly": True,
        "resources": [{"accountId": account_id, "type": "AWS::IAM::Role", "ARN": role_arn}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "sharedEventID": str(uuid.uuid4()),
        "eventCategory": "Management",
    }


def infrastructure_role_arn(account_id: str, instance_id: str) -> str:
    """The grantee EC2 names in its grants: the instance's hidden ec2-infrastructure role session."""
    return f"arn:aws:sts::{account_id}:assumed-role/aws:ec2-infrastructure/{instance_id}"


def shared_copy(record: dict[str, Any], owner_account: str) -> dict[str, Any]:
    """The copy CloudTrail delivers to a cross-account key's owner (same event, its own eventID)."""
    copy = dict(record, recipientAccountId=owner_account, eventID=event_id(record["eventID"]))
    copy["sharedEventID"] = record.setdefault("sharedEventID", str(uuid.uuid4()))
    return copy


def _kms_record(identity: dict[str, Any], operation: str, region: str, at: datetime, request: dict[str, Any],
                response: dict[str, Any] | None, key_arn: str, recipient: str, error: tuple[str, str] | None,
                read_only: bool, source: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": format_time(at),
        "eventSource": "kms.amazonaws.com",
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": source,
        "userAgent": source,
    }
    if error:
        record["errorCode"], record["errorMessage"] = error
    request_id = event_id(operation)
    key_account = key_arn.split(":")[4]
    record.update({
        "requestParameters": request,
        "responseElements": response,
        "requestID": request_id,
        "eventID": event_id(request_id),
        "readOnly": read_only,
        "resources": [{"accountId": key_account, "type": "AWS::KMS::Key", "ARN": key_arn}],
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": recipient,
        "eventCategory": "Management",
    })
    return record


def lookup_resources(record: dict[str, Any]) -> list[tuple[str, str]]:
    """The (ResourceType, ResourceName) pairs LookupEvents reports (and matches) for a record."""
    pairs: list[tuple[str, str]] = [(r["type"], r["ARN"]) for r in record.get("resources") or []]
    request = record.get("requestParameters") or {}
    for item in (request.get("instancesSet") or {}).get("items", []):
        if item.get("instanceId"):
            pairs.append(("AWS::EC2::Instance", item["instanceId"]))
        if item.get("imageId"):
            pairs.append(("AWS::EC2::Ami", item["imageId"]))
    pairs += _change_resources(record.get("eventSource"), request)
    response = record.get("responseElements") or {}
    for item in (response.get("instancesSet") or {}).get("items", []):
        if ("AWS::EC2::Instance", item.get("instanceId")) not in pairs and item.get("instanceId"):
            pairs.append(("AWS::EC2::Instance", item["instanceId"]))
    return pairs


_IAM_RESOURCES = (("roleName", "AWS::IAM::Role"), ("userName", "AWS::IAM::User"), ("groupName", "AWS::IAM::Group"),
                  ("policyArn", "AWS::IAM::Policy"), ("policyName", "AWS::IAM::Policy"),
                  ("permissionsBoundary", "AWS::IAM::Policy"))
_ORGANIZATIONS_RESOURCES = (("policyId", "AWS::Organizations::Policy"), ("targetId", "AWS::Organizations::Target"),
                            ("accountId", "AWS::Organizations::Account"))


def _change_resources(source: Any, request: dict[str, Any]) -> list[tuple[str, str]]:
    """What LookupEvents lists as Resources for IAM and Organizations changes: names (users, roles, groups,
    inline policies) and ARNs (managed policies) for IAM, ids for Organizations."""
    table = {"iam.amazonaws.com": _IAM_RESOURCES, "organizations.amazonaws.com": _ORGANIZATIONS_RESOURCES}.get(
        str(source), ())
    return [(kind, str(request[name])) for name, kind in table if isinstance(request.get(name), str)]
