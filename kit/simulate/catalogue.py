"""The scenario catalogue: one YAML file per scenario in kit/simulate/scenarios/, read and checked here.

A scenario is data (story, principal, keys, instance, failure, KMS calls, expected verdict); the one
generic seeder in kit.simulate.seeder turns it into resources and events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from kit.aws_ids import ACCOUNT_ID, REGION
from kit.causes import cause, cause_ids, causes, denied_by_words
from kit.errors import BadInput

PRINCIPAL_TYPES = ("user", "role", "sso-role", "service-linked-role")
LAUNCHES = ("start", "run", "fleet", "spot", "spot-fleet")  # StartInstances, RunInstances, CreateFleet (instant),
# a Spot request, a Spot Fleet request
REQUIRED = ("name", "story", "region", "principal", "instance", "failure", "expected")


@dataclass(frozen=True)
class Scenario:
    """One catalogue entry; `spec` is the whole YAML document."""

    name: str
    story: str
    region: str
    cause: str
    spec: dict[str, Any] = field(repr=False, hash=False, compare=False)

    @property
    def one_line(self) -> str:
        """The story's first sentence, for `kit scenarios`."""
        text = " ".join(self.story.split())
        end = text.find(". ")
        return text if end < 0 else text[: end + 1]


def load_catalogue() -> list[Scenario]:
    """Every scenario, `seed` first, then by name."""
    return list(_catalogue())


@cache
def _catalogue() -> tuple[Scenario, ...]:
    folder = resources.files("kit.simulate") / "scenarios"
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    scenarios = [parse_scenario(yaml.load(entry.read_text(encoding="utf-8"), Loader=loader), entry.name)
                 for entry in folder.iterdir() if entry.name.endswith(".yaml")]
    scenarios.sort(key=lambda s: (s.name != "seed", s.name))
    names = [s.name for s in scenarios]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise BadInput("scenarios", "unique scenario names", duplicates)
    return tuple(scenarios)


def scenario_named(name: str) -> Scenario:
    """The scenario called `name`, or BadInput listing the valid names."""
    catalogue = load_catalogue()
    for scenario in catalogue:
        if scenario.name == name:
            return scenario
    raise BadInput("--scenario", "one of " + ", ".join(s.name for s in catalogue), name)


def spread(scenario: Scenario) -> list[dict[str, str]]:
    """The other accounts and Regions the scenario's failure is also seeded into (`spread:`), checked."""
    places = scenario.spec.get("spread") or []
    out = []
    for place in places if isinstance(places, list) else [places]:
        account = str((place or {}).get("account", "")) if isinstance(place, dict) else ""
        region = str((place or {}).get("region", "")) if isinstance(place, dict) else ""
        if not ACCOUNT_ID.match(account) or not REGION.match(region):
            raise BadInput(f"{scenario.name}.yaml: spread[]", "{account: 12 digits, region: a Region name}", place)
        out.append({"account": account, "region": region})
    return out


def parse_scenario(spec: Any, source: str) -> Scenario:
    """Check one scenario document's shape and wrap it."""
    if not isinstance(spec, dict):
        raise BadInput(source, "a YAML mapping", type(spec).__name__)
    missing = [key for key in REQUIRED if key not in spec]
    if missing:
        raise BadInput(source, "keys " + ", ".join(REQUIRED), f"missing {', '.join(missing)}")
    if source.endswith(".yaml") and source != f"{spec['name']}.yaml":
        raise BadInput(source, f"file named {spec['name']}.yaml")
    principal_type = spec["principal"].get("type")
    if principal_type not in PRINCIPAL_TYPES:
        raise BadInput(f"{source}: principal.type", " | ".join(PRINCIPAL_TYPES), principal_type)
    expected = spec["expected"]
    if expected.get("cause") not in cause_ids():
        raise BadInput(f"{source}: expected.cause", "a cause code of contracts.md section 3", expected.get("cause"))
    denied_by = expected.get("denied_by")
    allowed = cause(expected["cause"]).denied_by
    if (denied_by is not None) != bool(allowed) or (denied_by is not None and denied_by not in allowed):
        raise BadInput(f"{source}: expected.denied_by", "one of " + ", ".join(denied_by_words()) + " for "
                       + ", ".join(c.id for c in causes().values() if c.denied_by) + ", null otherwise", denied_by)
    keys = spec.get("keys") or {}
    for call in spec.get("kms_calls") or []:
        if call.get("key") not in keys:
            raise BadInput(f"{source}: kms_calls[].key", "a key declared under keys", call.get("key"))
    for volume in spec["instance"].get("volumes") or []:
        if volume.get("key") is not None and volume["key"] not in keys:
            raise BadInput(f"{source}: instance.volumes[].key", "a key declared under keys", volume["key"])
    if spec["instance"].get("launch", "start") not in LAUNCHES:
        raise BadInput(f"{source}: instance.launch", " | ".join(LAUNCHES), spec["instance"].get("launch"))
    requester = spec["instance"].get("requested_by")
    if requester is not None and (not isinstance(requester, dict) or requester.get("type") not in PRINCIPAL_TYPES):
        raise BadInput(f"{source}: instance.requested_by", "a principal (type: " + " | ".join(PRINCIPAL_TYPES) + ")",
                       requester)
    if spec["failure"].get("state") not in ("stopped", "terminated", "running"):
        raise BadInput(f"{source}: failure.state", "stopped | terminated | running", spec["failure"].get("state"))
    scenario = Scenario(name=str(spec["name"]), story=str(spec["story"]).strip(), region=str(spec["region"]),
                        cause=str(expected["cause"]), spec=spec)
    spread(scenario)  # checked here: a bad entry is named when the catalogue loads
    return scenario
