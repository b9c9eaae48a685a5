"""Launch paths: the API calls that launch an instance (RunInstances, StartInstances, CreateFleet, Spot requests),
how each call's CloudTrail record is tied to the instance, and which role EC2 acts as for it.

The table is data (`launch_paths.yaml`); live collection, the cli: checklist and the diagnosis all read it here,
so they tie the same records to the same instance.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Mapping

import yaml

INSTANCE_LINK = "instance"


@dataclass(frozen=True)
class ServiceRole:
    """A service-linked role that launches for a path (and so is the principal EC2 asks KMS for)."""

    service: str
    role: str

    def arn(self, account_id: str, partition: str = "aws") -> str:
        return f"arn:{partition}:iam::{account_id}:role/aws-service-role/{self.service}/{self.role}"


@dataclass(frozen=True)
class LaunchPath:
    """One launch API call."""

    event_name: str
    words: str
    links: tuple[str, ...]
    lookup: str | None = None
    service_role: ServiceRole | None = None
    service_role_unless_instant: ServiceRole | None = None

    def launching_role(self, record: Mapping[str, Any] | None) -> ServiceRole | None:
        """The service-linked role that launches for this call (None: the caller launches)."""
        if self.service_role:
            return self.service_role
        if self.service_role_unless_instant and fleet_type(record) not in (None, "instant"):
            return self.service_role_unless_instant
        return None


@cache
def _table() -> dict[str, Any]:
    text = resources.files("kit.frames").joinpath("launch_paths.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return data if isinstance(data, dict) else {}


@cache
def launch_paths() -> dict[str, LaunchPath]:
    """Every launch path by event name."""
    out = {}
    for name, spec in (_table().get("paths") or {}).items():
        role = spec.get("service_role")
        unless = spec.get("service_role_unless_instant")
        out[name] = LaunchPath(event_name=name, words=str(spec["words"]), links=tuple(spec.get("links") or ()),
                               lookup=spec.get("lookup"),
                               service_role=ServiceRole(role["service"], role["role"]) if role else None,
                               service_role_unless_instant=ServiceRole(unless["service"], unless["role"])
                               if unless else None)
    return out


def launch_event_names() -> tuple[str, ...]:
    """The event names of every launch path."""
    return tuple(launch_paths())


def path_of(event_name: str | None) -> LaunchPath | None:
    return launch_paths().get(event_name or "")


def instance_links(instance: Mapping[str, Any] | None) -> dict[str, str]:
    """The ids that tie a describe-instances Instance to launch records other than by its own id:
    {link kind: id}, e.g. {"fleet-id-tag": "fleet-...", "spot-request-id": "sir-..."}."""
    if not instance:
        return {}
    tags = instance.get("Tags")
    if isinstance(tags, list):
        tags = {t.get("Key"): t.get("Value") for t in tags if isinstance(t, dict)}
    tags = tags if isinstance(tags, Mapping) else {}
    out: dict[str, str] = {}
    for kind, spec in (_table().get("links") or {}).items():
        value = tags.get(spec["tag"]) if spec.get("tag") else instance.get(spec.get("field", ""))
        if isinstance(value, str) and value:
            out[kind] = value
    return out


def record_names_instance(record: Mapping[str, Any], instance_id: str, links: Mapping[str, str] = {}) -> bool:
    """Whether a launch record is about the instance: its id in the record (resources, request, response), or,
    for a path tied by another id (fleet, Spot request), that id in the record."""
    path = path_of(record.get("eventName"))
    wanted = [instance_id] if path is None or INSTANCE_LINK in path.links else []
    if path is not None:
        wanted += [links[k] for k in path.links if k != INSTANCE_LINK and links.get(k)]
    if not wanted:
        return False
    for resource in record.get("resources") or []:
        if isinstance(resource, dict) and any(
                str(resource.get("ARN", "")).endswith(w) or resource.get("resourceName") == w for w in wanted):
            return True
    text = json.dumps([record.get("requestParameters"), record.get("responseElements")], default=str)
    return any(w in text for w in wanted)


def fleet_type(record: Mapping[str, Any] | None) -> str | None:
    """CreateFleet's Type (instant, request, maintain; AWS's default: maintain), None for other calls."""
    if not record or record.get("eventName") != "CreateFleet":
        return None
    request = record.get("requestParameters") or {}
    inner = request.get("CreateFleetRequest", request) if isinstance(request, dict) else {}
    value = inner.get("Type") if isinstance(inner, dict) else None
    return str(value) if value else "maintain"


@dataclass(frozen=True)
class FleetErrorKind:
    """What kind of failure one item of a fleet's error set is (launch_paths.yaml `fleet_error_kinds`)."""

    id: str  # kms | capacity | spot-price | quota | configuration | other
    words: str
    kms: bool = False


OTHER_FLEET_ERROR = FleetErrorKind("other", "another launch error (read its message)")


@cache
def _fleet_error_kinds() -> tuple[tuple[FleetErrorKind, re.Pattern[str] | None, re.Pattern[str] | None], ...]:
    out = []
    for spec in _table().get("fleet_error_kinds") or []:
        code = re.compile(str(spec["code"]), re.IGNORECASE) if spec.get("code") else None
        message = re.compile(str(spec["message"]), re.IGNORECASE) if spec.get("message") else None
        out.append((FleetErrorKind(str(spec["id"]), str(spec["words"]), bool(spec.get("kms"))), code, message))
    return tuple(out)


def fleet_error_kind(code: str, message: str = "") -> FleetErrorKind:
    """The kind of one fleet error: a KMS refusal, no capacity, the Spot price, a quota, the template, or other."""
    for kind, code_pattern, message_pattern in _fleet_error_kinds():
        if (code_pattern and code_pattern.search(code or "")) or (message_pattern and message_pattern.search(
                message or "")):
            return kind
    return OTHER_FLEET_ERROR


def fleet_errors(record: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The error set of a CreateFleet response, one item per launch template override that launched nothing:
    code, message, the override's instance_type and subnet_id ("" when not named), kind and kind_words
    (fleet_error_kind: a KMS refusal told apart from capacity, Spot price, quota or template errors)."""
    response = (record or {}).get("responseElements") or {}
    inner = response.get("CreateFleetResponse", response) if isinstance(response, dict) else {}
    error_set = inner.get("errorSet") if isinstance(inner, dict) else None
    items = (error_set.get("item") if isinstance(error_set, dict) else None) or []
    items = items if isinstance(items, list) else [items]
    out = []
    for item in items:
        if not isinstance(item, dict):
            continue
        code, message = str(item.get("errorCode") or ""), str(item.get("errorMessage") or "")
        spec = item.get("launchTemplateAndOverrides")
        overrides = spec.get("overrides") if isinstance(spec, dict) else None
        overrides = overrides if isinstance(overrides, dict) else {}
        kind = fleet_error_kind(code, message)
        out.append({"code": code, "message": message, "instance_type": str(overrides.get("instanceType") or ""),
                    "subnet_id": str(overrides.get("subnetId") or ""), "kind": kind.id, "kind_words": kind.words})
    return out


def fleet_id_of(record: Mapping[str, Any] | None) -> str | None:
    """The fleet id a CreateFleet response names (None when the call failed or is another call)."""
    response = (record or {}).get("responseElements") or {}
    inner = response.get("CreateFleetResponse", response) if isinstance(response, dict) else {}
    value = inner.get("fleetId") if isinstance(inner, dict) else None
    return str(value) if value else None


def fleet_instance_ids(record: Mapping[str, Any] | None) -> list[str]:
    """Instance ids a CreateFleet response names (fleetInstanceSet items' instanceIds)."""
    response = (record or {}).get("responseElements") or {}
    inner = response.get("CreateFleetResponse", response) if isinstance(response, dict) else {}
    items = ((inner.get("fleetInstanceSet") or {}).get("item") if isinstance(inner, dict) else None) or []
    out: list[str] = []
    for item in items if isinstance(items, list) else [items]:
        ids = ((item or {}).get("instanceIds") or {}).get("item") if isinstance(item, dict) else None
        out += [i for i in (ids if isinstance(ids, list) else [ids]) if isinstance(i, str)]
    return out


def launch_template_of(record: Mapping[str, Any] | None) -> tuple[str | None, str | None]:
    """(launch template id or name, version) a launch request names, if any."""
    def walk(value: Any) -> tuple[str | None, str | None] | None:
        if isinstance(value, dict):
            for key, inner in value.items():
                if key in ("launchTemplate", "LaunchTemplateSpecification", "launchTemplateSpecification") \
                        and isinstance(inner, dict):
                    ref = (inner.get("launchTemplateId") or inner.get("LaunchTemplateId")
                           or inner.get("launchTemplateName") or inner.get("LaunchTemplateName"))
                    if ref:
                        version = inner.get("version") or inner.get("Version")
                        return str(ref), str(version) if version is not None else None
                found = walk(inner)
                if found:
                    return found
        elif isinstance(value, list):
            for item in value:
                found = walk(item)
                if found:
                    return found
        return None

    return walk((record or {}).get("requestParameters")) or (None, None)


MAPPING_PATHS = ("RunInstances", "RequestSpotInstances", "RequestSpotFleet")  # requests that may carry mappings


def request_mappings(record: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The blockDeviceMapping items a launch request itself carries (RunInstances, a Spot request's
    launchSpecification, a Spot Fleet request's LaunchSpecifications), as RunInstances records them
    ({deviceName, ebs: {kmsKeyId, encrypted, ...}}); [] when it names none (a launch template's are in the
    template)."""
    request = (record or {}).get("requestParameters") or {}
    name = (record or {}).get("eventName")
    if not isinstance(request, dict) or name not in MAPPING_PATHS:
        return []
    if name == "RequestSpotFleet":
        return _spot_fleet_mappings(request)
    if name == "RequestSpotInstances":
        request = request.get("launchSpecification") or {}
    items = ((request.get("blockDeviceMapping") or {}).get("items")) if isinstance(request, dict) else None
    return [i for i in items or [] if isinstance(i, dict)]


def _spot_fleet_mappings(request: dict[str, Any]) -> list[dict[str, Any]]:
    """A Spot Fleet request's launch specifications' mappings (the query API's RequestSpotFleetRequest wrapper,
    CloudTrail's capitalised members, a list or a single member), in RunInstances' shape, first seen first."""
    inner = request.get("RequestSpotFleetRequest", request)
    config = (inner.get("SpotFleetRequestConfig") or inner.get("spotFleetRequestConfig") or {}) \
        if isinstance(inner, dict) else {}
    specs = (config.get("LaunchSpecifications") or config.get("launchSpecifications") or []) \
        if isinstance(config, dict) else []
    out: list[dict[str, Any]] = []
    for spec in _members(specs):
        for item in _members(spec.get("BlockDeviceMapping") or spec.get("blockDeviceMapping")):
            ebs = item.get("Ebs") or item.get("ebs") or {}
            ebs = ebs if isinstance(ebs, dict) else {}
            mapping = {"deviceName": item.get("DeviceName") or item.get("deviceName"),
                       "ebs": {k: ebs.get(k[0].upper() + k[1:], ebs.get(k)) for k in
                               ("kmsKeyId", "encrypted", "volumeSize", "snapshotId") if
                               ebs.get(k[0].upper() + k[1:], ebs.get(k)) is not None}}
            if mapping not in out:
                out.append(mapping)
    return out


def _members(value: Any) -> list[dict[str, Any]]:
    """A query-API member that CloudTrail records as a list, a single object, or {"items"/"item": [...]}."""
    if isinstance(value, dict) and isinstance(value.get("items", value.get("item")), (list, dict)):
        value = value.get("items", value.get("item"))
    items = value if isinstance(value, list) else [value]
    return [i for i in items if isinstance(i, dict)]
