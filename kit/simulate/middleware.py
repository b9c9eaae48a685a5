"""The kit's extensions to moto, as WSGI middleware in front of moto's app (same process, same endpoint).

- CloudTrail LookupEvents (moto has none): answered from the world's trail, optional 2 requests/s throttle.
- StartInstances on a failing scenario instance: moto starts it; we answer `pending` instead of `running`,
  then shortly after stop it with the scenario's StateReason and append the replayed events.
- StartInstances on a terminated instance: IncorrectInstanceState, as AWS (moto would start it).
- GetEbsDefaultKmsKeyId / ResetEbsDefaultKmsKeyId (moto has neither).
- Auto Scaling DescribeScalingActivities (moto always answers none): the seeded launches' activities.
- Volumes' KmsKeyId normalised to the key ARN after EC2 calls that create volumes.
- KMS DescribeKey/ListGrants with another account's key ARN: served from the owner's account when its key
  policy admits the caller's account (moto only looks in the caller's account), AccessDeniedException if not.
- Organizations reads from a member account: served from the management account (the members are
  delegated administrators for policy reads; moto answers only the management account).
"""

from __future__ import annotations

import fnmatch
import io
import json
import re
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from kit.simulate.keys import normalise_key_arn
from kit.simulate.logs import publish
from kit.simulate.trail import LookupRefused
from kit.simulate.world import world

LOOKUP_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
KMS_CROSS_ACCOUNT = {"TrentService.DescribeKey": "kms:DescribeKey", "TrentService.ListGrants": "kms:ListGrants"}
ORG_PREFIX = "AWSOrganizationsV20161128."
ORG_READS = {"ListRoots", "ListParents", "ListChildren", "ListPoliciesForTarget", "DescribePolicy", "ListPolicies",
             "ListTargetsForPolicy", "DescribeAccount", "ListAccounts", "ListOrganizationalUnitsForParent",
             "DescribeOrganizationalUnit", "ListAccountsForParent"}
VOLUME_CREATING = {"RunInstances", "CreateVolume", "CopySnapshot", "CreateSnapshot", "CreateSnapshots"}
CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/")
EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"
THROTTLE_RATE = 2.0      # LookupEvents: 2 requests per second per account and Region
THROTTLE_BURST = 2.0

StartResponse = Callable[..., Any]


class Extensions:
    """WSGI middleware adding the kit's AWS fidelity to moto's app."""

    def __init__(self, app: Callable[..., Iterable[bytes]], throttle: bool = False) -> None:
        self.app = app
        self.throttle = throttle
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target == LOOKUP_TARGET:
            return self._lookup_events(environ, start_response)
        if target in KMS_CROSS_ACCOUNT:
            refused = self._route_kms(environ, KMS_CROSS_ACCOUNT[target])
            if refused is not None:
                return _json_error(start_response, "AccessDeniedException", refused)
        elif target.startswith(ORG_PREFIX) and target[len(ORG_PREFIX):] in ORG_READS:
            self._route_organizations(environ)
        elif _scope(environ)[2] == "ec2" and environ.get("REQUEST_METHOD") == "POST":
            return self._ec2(environ, start_response)
        elif _scope(environ)[2] == "autoscaling" and environ.get("REQUEST_METHOD") == "POST":
            params = parse_qs(_body(environ).decode("utf-8", "replace"))
            if (params.get("Action") or [""])[0] == "DescribeScalingActivities":
                return _scaling_activities(start_response, _account(environ), _scope(environ)[1], params)
        return self.app(environ, start_response)

    def close(self) -> None:
        """Cancel pending replays (the server is stopping)."""
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()

    # ---- CloudTrail ----------------------------------------------------------------------------------------

    def _lookup_events(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        account, region = _account(environ), _scope(environ)[1]
        if self.throttle and not self._bucket(account, region).take():
            return _json_error(start_response, "ThrottlingException", "Rate exceeded")
        try:
            request = json.loads(_body(environ) or b"{}")
            response = world().trail.lookup(account, region, request)
        except LookupRefused as exc:
            return _json_error(start_response, exc.code, exc.message)
        except ValueError:
            return _json_error(start_response, "SerializationException", "Request body is not valid JSON.")
        return _json(start_response, "200 OK", response)

    def _bucket(self, account: str, region: str) -> TokenBucket:
        with self._lock:
            return self._buckets.setdefault((account, region), TokenBucket(THROTTLE_RATE, THROTTLE_BURST))

    # ---- EC2 -----------------------------------------------------------------------------------------------

    def _ec2(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        params = parse_qs(_body(environ).decode("utf-8", "replace"))
        action = (params.get("Action") or [""])[0]
        account, region = _account(environ), _scope(environ)[1]
        if action == "StartInstances":
            ids = [v[0] for k, v in sorted(params.items()) if k.startswith("InstanceId.")]
            return self._start_instances(environ, start_response, account, region, ids)
        if action in ("GetEbsDefaultKmsKeyId", "ResetEbsDefaultKmsKeyId"):
            return _default_ebs_key(start_response, action, account, region)
        result = self.app(environ, start_response)
        if action in VOLUME_CREATING:
            _normalise_volume_keys(account, region)
        return result

    def _start_instances(self, environ: dict[str, Any], start_response: StartResponse, account: str, region: str,
                         ids: list[str]) -> Iterable[bytes]:
        from moto.ec2.models import ec2_backends

        backend = ec2_backends[account][region]
        for instance_id in ids:
            instance = _find_instance(backend, instance_id)
            if instance is not None and instance._state.name == "terminated":
                return _ec2_error(start_response, "IncorrectInstanceState",
                                  f"The instance '{instance_id}' is not in a state from which it can be started.")
        failing, replaying = [], []
        for instance_id in ids:
            launch = world().failures.get((account, region, instance_id))
            instance = _find_instance(backend, instance_id)
            if launch is not None and instance is not None and instance._state.name in ("stopped", "pending"):
                failing.append(launch)
                if instance._state.name == "pending":      # a replay is under way: AWS answers pending again
                    replaying.append(launch)
        if not failing:
            return self.app(environ, start_response)
        status, headers, body = _call(self.app, environ)
        if not status.startswith("200"):
            start_response(status, headers)
            return [body]
        at = datetime.now(timezone.utc)
        for launch in failing:
            launch.set_pending()
            if launch in replaying:
                continue
            delay = max((c.after for c in launch.kms_calls), default=1.0) + 0.5
            timer = threading.Timer(delay, self._finish_failed_start, (launch, at))
            timer.daemon = True
            with self._lock:
                self._timers.append(timer)
            timer.start()
        body = _pending_response(body, {launch.instance_id for launch in failing})
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]

    def _finish_failed_start(self, launch: Any, at: datetime) -> None:
        with world().lock:
            publish(launch.timeline(at))
            launch.apply_final_state(at)

    # ---- KMS and Organizations routing ---------------------------------------------------------------------

    def _route_kms(self, environ: dict[str, Any], action: str) -> str | None:
        from moto.kms.models import kms_backends

        body = _body(environ)
        try:
            key_id = str(json.loads(body or b"{}").get("KeyId", ""))
        except ValueError:
            return None
        parts = key_id.split(":")
        caller = _account(environ)
        if not key_id.startswith("arn:") or len(parts) < 6 or parts[4] == caller:
            return None
        owner, key_region = parts[4], parts[3]
        key = kms_backends[owner][key_region].keys.get(parts[5].split("/")[-1])
        if key is not None and _key_policy_admits(key.policy, caller, action):
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = owner
            return None
        return (f"User: {_caller_arn(environ, caller)} is not authorized to perform: {action} on resource: "
                f"{key_id} because no resource-based policy allows the {action} action")

    def _route_organizations(self, environ: dict[str, Any]) -> None:
        from moto.organizations.models import organizations_backends

        caller = _account(environ)
        if caller in organizations_backends.master_accounts:
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = organizations_backends.master_accounts[caller][0]


class TokenBucket:
    """A token bucket: `rate` tokens a second, at most `burst` saved."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = burst
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one token if there is one."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


# ---- request and response plumbing ---------------------------------------------------------------------------

def _body(environ: dict[str, Any]) -> bytes:
    """Read the request body and put it back for moto."""
    if "kit.body" in environ:
        return environ["kit.body"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["kit.body"] = body
    return body


def _scope(environ: dict[str, Any]) -> tuple[str, str, str]:
    """(access key id, Region, service) from the SigV4 Authorization header."""
    match = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.groups() if match else ("", "us-east-1", "")  # type: ignore[return-value]


def _account(environ: dict[str, Any]) -> str:
    """The account a request acts in, as moto decides it (header, then access key)."""
    from moto.iam.models import get_account_id_from

    return environ.get("HTTP_X_MOTO_ACCOUNT_ID") or get_account_id_from(_scope(environ)[0])


def _caller_arn(environ: dict[str, Any], account: str) -> str:
    from moto.iam.models import iam_backends

    access_key = _scope(environ)[0]
    key = iam_backends[account]["aws"].access_keys.get(access_key)
    if key is not None and getattr(key, "role_arn", None):
        return str(key.role_arn)
    if key is not None and key.user_name:
        return f"arn:aws:iam::{account}:user/{key.user_name}"
    return f"arn:aws:sts::{account}:user/moto"


def _key_policy_admits(policy: str, caller_account: str, action: str) -> bool:
    """Whether an Allow statement of the key policy names the caller's account (or *) for `action`."""
    try:
        statements = json.loads(policy).get("Statement", [])
    except (ValueError, AttributeError):
        return False
    names = {"*", caller_account, f"arn:aws:iam::{caller_account}:root"}
    for statement in statements if isinstance(statements, list) else [statements]:
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        principals = principal.get("AWS", []) if isinstance(principal, dict) else principal
        principals = [principals] if isinstance(principals, str) else principals
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if (any(p in names or p.startswith(f"arn:aws:iam::{caller_account}:") for p in principals)
                and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions)):
            return True
    return False


def _find_instance(backend: Any, instance_id: str) -> Any:
    for reservation in backend.reservations.values():
        for instance in reservation.instances:
            if instance.id == instance_id:
                return instance
    return None


def _normalise_volume_keys(account: str, region: str) -> None:
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account][region]
    for volume in list(backend.volumes.values()):
        if volume.kms_key_id and not volume.kms_key_id.startswith("arn:"):
            volume.kms_key_id = normalise_key_arn(volume.kms_key_id, account, region)
    for snapshot in list(backend.snapshots.values()):
        if snapshot.kms_key_id and not str(snapshot.kms_key_id).startswith("arn:"):
            snapshot.kms_key_id = normalise_key_arn(snapshot.kms_key_id, account, region)


def _scaling_activities(start_response: StartResponse, account: str, region: str,
                        params: dict[str, list[str]]) -> list[bytes]:
    """DescribeScalingActivities from the world's activities (moto always answers an empty list)."""
    group = next(iter(params.get("AutoScalingGroupName") or []), None)
    wanted = {v[0] for k, v in params.items() if k.startswith("ActivityIds.member.")}
    activities = [a for a in reversed(world().activities.get((account, region), []))
                  if (group is None or a["AutoScalingGroupName"] == group) and (not wanted or a["ActivityId"] in wanted)]
    token = (params.get("NextToken") or ["0"])[0]
    start = int(token) if token.isdigit() else 0
    records = (params.get("MaxRecords") or ["100"])[0]
    size = int(records) if records.isdigit() and int(records) > 0 else 100
    page = activities[start:start + size]
    members = "".join("<member>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in a.items()) + "</member>"
                      for a in page)
    token = f"<NextToken>{start + size}</NextToken>" if start + size < len(activities) else ""
    ns = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
    body = (f'<DescribeScalingActivitiesResponse xmlns="{ns}"><DescribeScalingActivitiesResult>'
            f"<Activities>{members}</Activities>{token}</DescribeScalingActivitiesResult>"
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            "</DescribeScalingActivitiesResponse>").encode()
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _default_ebs_key(start_response: StartResponse, action: str, account: str, region: str) -> list[bytes]:
    """GetEbsDefaultKmsKeyId / ResetEbsDefaultKmsKeyId (moto has neither). Unchanged, AWS answers alias/aws/ebs."""
    from moto.ec2.models import ec2_backends
    from moto.kms.models import kms_backends

    backend, kms = ec2_backends[account][region], kms_backends[account][region]
    aws_managed = kms.keys[kms.get_key_id_from_alias("alias/aws/ebs")].arn  # type: ignore[index]  # moto makes aws/ebs if it is missing
    if action == "ResetEbsDefaultKmsKeyId" or not backend.default_kms_key_id:
        backend.default_kms_key_id = aws_managed
    key_id = "alias/aws/ebs" if backend.default_kms_key_id == aws_managed else backend.default_kms_key_id
    if action == "ResetEbsDefaultKmsKeyId":
        key_id = aws_managed
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<{action}Response xmlns="{EC2_NS}">'
            f"<requestId>{uuid.uuid4()}</requestId><kmsKeyId>{key_id}</kmsKeyId></{action}Response>").encode()
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _call(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    captured: dict[str, Any] = {}

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    result = app(environ, capture)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return captured["status"], captured["headers"], body


def _pending_response(body: bytes, instance_ids: set[str]) -> bytes:
    """Rewrite a StartInstances response so the given instances report currentState pending (code 0)."""
    ET.register_namespace("", EC2_NS)
    root = ET.fromstring(body)
    for item in root.iter(f"{{{EC2_NS}}}item"):
        instance_id = item.findtext(f"{{{EC2_NS}}}instanceId")
        state = item.find(f"{{{EC2_NS}}}currentState")
        if instance_id in instance_ids and state is not None:
            state.find(f"{{{EC2_NS}}}code").text = "0"      # type: ignore[union-attr]
            state.find(f"{{{EC2_NS}}}name").text = "pending"  # type: ignore[union-attr]
    return ET.tostring(root, xml_declaration=True, encoding="UTF-8")


def _json(start_response: StartResponse, status: str, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body))),
                            ("x-amzn-RequestId", str(uuid.uuid4()))])
    return [body]


def _json_error(start_response: StartResponse, code: str, message: str) -> list[bytes]:
    return _json(start_response, "400 Bad Request", {"__type": code, "message": message})


def _ec2_error(start_response: StartResponse, code: str, message: str) -> list[bytes]:
    request_id = str(uuid.uuid4())
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>").encode()
    start_response("400 Bad Request", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]
