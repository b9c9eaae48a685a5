"""KMS failures in CloudTrail tied to one instance, and what their error text says about the refusing layer."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import pandas as pd

from kit.causes import denied_by_words
from kit.diagnose.metadata import load_data

# EC2's front ends, as CloudTrail names them when EC2 calls KMS on the launcher's behalf.
EC2_CALLERS = ("ec2-frontend-api.amazonaws.com", "ec2.amazonaws.com", "AWS Internal")
KMS_SOURCE = "kms.amazonaws.com"
WINDOW_BEFORE = pd.Timedelta(seconds=5)  # clock skew between EC2's and KMS's records
WINDOW_AFTER = pd.Timedelta(minutes=5)  # "seconds after the start"; generous, still one launch

# How strongly a failure is tied to the instance, strongest first.
Tie = Literal["grantee", "volume", "timing"]
TIES: tuple[Tie, ...] = ("grantee", "volume", "timing")


@dataclass(frozen=True)
class KmsFailure:
    """One failed KMS call that belongs to this instance's launch."""

    event_id: str | None
    event_time: Any
    event_name: str
    error_code: str
    error_kind: str  # access-denied | key-disabled | key-invalid-state | key-not-found | key-unavailable | other
    error_message: str | None
    principal_arn: str | None  # the IAM principal behind the caller (role for sessions)
    identity_arn: str | None  # the caller as CloudTrail shows it (session ARN)
    identity_type: str | None
    invoked_by: str | None
    key_arn: str | None
    volume_ids: tuple[str, ...]
    tie: Tie
    infrastructure: bool  # the caller is the instance's aws:ec2-infrastructure role (Decrypt after the grant)
    denied_by: str | None  # the layer the message names (findings denied_by), None when not a denial
    agrees_with: tuple[str, ...]  # evaluator answers compatible with the message
    grantee: str | None = None  # requestParameters.granteePrincipal of a CreateGrant

    @property
    def by_ec2(self) -> bool:
        """EC2 made the call on the principal's behalf (or as the instance's infrastructure role)."""
        return self.infrastructure or (self.invoked_by or "") in EC2_CALLERS


def kms_failures_for(events: pd.DataFrame, instance_id: str, volume_ids: set[str],
                     launch_events: list[dict[str, Any]], key_arns: set[str]) -> list[KmsFailure]:
    """Failed kms.amazonaws.com events tied to the instance, strongest tie first, then by time."""
    if not len(events):
        return []
    frame = events[(events["event_source"] == KMS_SOURCE) & events["error_code"].notna()]
    launches = [e["event_time"] for e in launch_events if e.get("event_time") is not None and not e.get("error_code")]
    launch_principals = {str(e["principal_arn"]) for e in launch_events
                         if not e.get("error_code") and e.get("principal_arn") is not None}
    out: list[KmsFailure] = []
    for record in frame.to_dict("records"):
        row = {str(k): v for k, v in record.items()}
        instances = _list(row.get("instance_ids"))
        volumes = _list(row.get("volume_ids"))
        keys = _list(row.get("key_arns"))
        tie: Tie | None = None
        if instance_id in instances:
            tie = "grantee"
        elif volume_ids and set(volumes) & volume_ids:
            tie = "volume"
        elif _after_a_launch(row.get("event_time"), launches) and _by_ec2_for(row, launch_principals) and (
                not key_arns or not keys or set(keys) & key_arns) and not _names_another_launch(
                instances, volumes, volume_ids):
            tie = "timing"
        if tie is None:
            continue
        out.append(_failure(row, tie, instance_id))
    out.sort(key=lambda f: (TIES.index(f.tie), _sortable(f.event_time)))
    return out


def denial_layer(message: str | None) -> tuple[str, tuple[str, ...]] | None:
    """(denied_by, agreeing evaluator answers) the error message names, or None when it is no denial text."""
    if not message:
        return None
    text = " ".join(message.lower().split())
    for entry in _tables()["messages"]:
        if entry["fragment"].lower() in text:
            return entry["denied_by"], tuple(entry["agrees_with"])
    return None


def error_kind(code: str | None) -> str:
    """An errorCode matched loosely (AccessDenied, AccessDeniedException, kms:DisabledException...)."""
    if not code:
        return "other"
    bare = code.rsplit(":", 1)[-1].rsplit(".", 1)[-1].strip().lower()
    kind: str = _tables()["error_codes"].get(bare, "other")
    return kind


@lru_cache(maxsize=1)
def _tables() -> dict[str, Any]:
    tables: dict[str, Any] = load_data("denials.yaml")
    return tables


def _failure(row: dict[str, Any], tie: Tie, instance_id: str) -> KmsFailure:
    message = row.get("error_message")
    message = None if message is None or (not isinstance(message, str) and pd.isna(message)) else message
    code = str(row.get("error_code"))
    kind = error_kind(code)
    layer = denial_layer(message) if kind == "access-denied" else None
    if kind == "access-denied" and layer is None:
        layer = ("unknown", tuple(word for word in denied_by_words() if word != "unknown"))
    identity_arn = _str(row.get("identity_arn"))
    keys = row.get("key_arns") if isinstance(row.get("key_arns"), list) else []
    record = row.get("record") or {}
    parameters = record.get("requestParameters")
    request: dict[str, Any] = parameters if isinstance(parameters, dict) else {}
    key_arn = keys[0] if keys else _key_from_request(request)
    return KmsFailure(
        event_id=_str(row.get("event_id")), event_time=row.get("event_time"), event_name=str(row.get("event_name")),
        error_code=code, error_kind=kind, error_message=message, principal_arn=_str(row.get("principal_arn")),
        identity_arn=identity_arn, identity_type=_str(row.get("identity_type")),
        invoked_by=_str(row.get("invoked_by")) or _str(row.get("source_ip")), key_arn=key_arn,
        volume_ids=tuple(row.get("volume_ids") or []), tie=tie,
        infrastructure=bool(identity_arn and "aws:ec2-infrastructure" in identity_arn),
        denied_by=layer[0] if layer else None, agrees_with=layer[1] if layer else (),
        grantee=_str(request.get("granteePrincipal")) if isinstance(request, dict) else None)


def _list(value: Any) -> list[str]:
    """A list-valued frame cell, [] for anything else (NA, None)."""
    return value if isinstance(value, list) else []


def _names_another_launch(instances: list[str], volumes: list[str], volume_ids: set[str]) -> bool:
    """The event identifies some other instance, or (when this instance's volumes are known) other volumes:
    it is that launch's evidence, however close in time (instances sharing a key and a launcher)."""
    return bool(instances) or bool(volume_ids and volumes)


def _after_a_launch(when: Any, launches: list[Any]) -> bool:
    if when is None or (not isinstance(when, str) and pd.isna(when)):
        return False
    return any(start - WINDOW_BEFORE <= when <= start + WINDOW_AFTER for start in launches)


def _by_ec2_for(row: dict[str, Any], launch_principals: set[str]) -> bool:
    invoked = _str(row.get("invoked_by")) or _str(row.get("source_ip")) or ""
    if invoked not in EC2_CALLERS:
        return False
    return not launch_principals or _str(row.get("principal_arn")) in launch_principals


def _key_from_request(request: dict[str, Any]) -> str | None:
    key = request.get("keyId") if isinstance(request, dict) else None
    return key if isinstance(key, str) and key.startswith("arn:") and ":key/" in key else None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        try:
            if pd.isna(value):
                return None
        except (TypeError, ValueError):
            pass
    return str(value)


def _sortable(value: Any) -> float:
    try:
        return pd.Timestamp(value).timestamp()
    except (TypeError, ValueError):
        return 0.0
