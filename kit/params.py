"""The investigation notebook's parameters: names, defaults, and their validation.

One place says which parameters exist (`PARAMETERS`), so the notebook's `parameters` cell, the
parameter files under `parameters/`, `kit investigate` and `kit demo` all agree. `validate()` turns a
mapping (a notebook's globals, a YAML file, CLI options) into `InvestigationParameters` or raises
`kit.errors.BadInput` naming the parameter and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kit.aws_ids import ACCESS_KEY_ID, INSTANCE_ID, REGION, ROLE_ARN
from kit.errors import BadInput

PROFILE = re.compile(r"^[\w+=,.@-]{1,128}$")
SCENARIO = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# Strings that look like credentials: these never belong in a parameter.
CREDENTIAL = re.compile(ACCESS_KEY_ID.pattern + r"|aws_secret_access_key|aws_session_token",
                        re.IGNORECASE)
MAX_WINDOW_MINUTES = 90 * 24 * 60  # CloudTrail lookup-events keeps 90 days
ASG_NAME = re.compile(r"^[\x20-\x7e]{1,255}$")
FLEET_ID = re.compile(r"^(fleet-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|sfr-[0-9a-f-]{36})$")
MAX_ERROR_TEXT = 8000
ENTRY_POINTS = ("asg", "fleet_id", "error_text")  # resolved to failed instances when instance_id is empty


@dataclass(frozen=True)
class InvestigationParameters:
    """Validated parameters of one investigation (the notebook's `parameters` cell, typed)."""

    instance_id: str = ""
    region: str = ""
    profile: str = ""
    role_arn: str = ""
    org_role_arn: str = ""  # a read-only role in the organization's management account (where SCP changes are recorded)
    source: str = "live"
    window_before_minutes: int = 60
    window_after_minutes: int = 30
    change_lookback_days: int = 30
    cloudtrail_source: str = ""
    scenario: str = ""
    interactive: bool = True
    redact: bool = False
    out_dir: str = ""
    asg: str = ""  # an Auto Scaling group whose failed launches to investigate (instead of instance_id)
    fleet_id: str = ""  # an EC2 Fleet (fleet-...) or Spot Fleet request (sfr-...) id
    error_text: str = ""  # a pasted console / Auto Scaling / Terraform error message

    @property
    def entry_point(self) -> tuple[str, str] | None:
        """(name, value) of the entry point given instead of an instance id, if any."""
        for name in ENTRY_POINTS:
            if getattr(self, name):
                return name, str(getattr(self, name))
        return None

    def to_dict(self) -> dict[str, Any]:
        """The parameters as plain values (what papermill injects)."""
        return asdict(self)

    @property
    def source_kind(self) -> str:
        """`live`, `bundle` or `cli`."""
        return self.source.split(":", 1)[0]


PARAMETERS: tuple[str, ...] = tuple(InvestigationParameters.__dataclass_fields__)
DEFAULTS: dict[str, Any] = InvestigationParameters().to_dict()

# Names a Jupyter kernel defines by itself; never taken for parameters.
_KERNEL_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython", "open"})


def validate(values: Mapping[str, Any], *, require_target: bool = False) -> InvestigationParameters:
    """Check every parameter and return them typed; raise BadInput on anything unknown or invalid.

    `require_target`: the instance id and Region must be known (headless runs without a scenario).
    """
    unknown = sorted(set(values) - set(PARAMETERS))
    if unknown:
        raise BadInput(unknown[0], "a known parameter (" + ", ".join(PARAMETERS) + ")", values[unknown[0]])
    merged = {**DEFAULTS, **{k: v for k, v in values.items()}}
    for name, value in merged.items():
        if isinstance(value, str) and CREDENTIAL.search(value):
            raise BadInput(name, "no credentials in parameters (use the AWS credential chain or a profile)",
                           "a value that looks like a credential")
    for name in ("instance_id", "region", "profile", "role_arn", "org_role_arn", "source", "cloudtrail_source", "scenario", "out_dir",
                 "asg", "fleet_id"):
        merged[name] = _text(name, merged[name])
    merged["error_text"] = _text("error_text", merged["error_text"])
    for name in ("interactive", "redact"):
        merged[name] = _flag(name, merged[name])
    for name in ("window_before_minutes", "window_after_minutes"):
        merged[name] = _minutes(name, merged[name])
    merged["change_lookback_days"] = _days("change_lookback_days", merged["change_lookback_days"])

    _match("instance_id", merged["instance_id"], INSTANCE_ID, "an instance id like i-0123456789abcdef0")
    _match("region", merged["region"], REGION, "a Region code like eu-west-1")
    _match("profile", merged["profile"], PROFILE, "an AWS profile name")
    _match("role_arn", merged["role_arn"], ROLE_ARN, "an IAM role ARN like arn:aws:iam::111122223333:role/Reader")
    _match("org_role_arn", merged["org_role_arn"], ROLE_ARN,
           "an IAM role ARN in the organization's management account like arn:aws:iam::111122223333:role/OrgReader")
    _match("scenario", merged["scenario"], SCENARIO, "a scenario name from `kit scenarios`")
    _match("asg", merged["asg"], ASG_NAME, "an Auto Scaling group name (1 to 255 printable characters)")
    _match("fleet_id", merged["fleet_id"], FLEET_ID, "an EC2 Fleet id (fleet-...) or Spot Fleet request id (sfr-...)")
    if len(merged["error_text"]) > MAX_ERROR_TEXT:
        raise BadInput("error_text", f"the error message as pasted (at most {MAX_ERROR_TEXT} characters)",
                       merged["error_text"][:80] + "...")
    entries = [name for name in ENTRY_POINTS if merged[name]]
    if len(entries) > 1 or (entries and merged["instance_id"]):
        raise BadInput(entries[-1], "one of instance_id, asg, fleet_id, error_text (not several)",
                       ", ".join((["instance_id"] if merged["instance_id"] else []) + entries))
    _check_source(merged["source"])
    _check_cloudtrail_source(merged["cloudtrail_source"])
    if merged["scenario"] and merged["source"] != "live":
        raise BadInput("source", "live when a scenario is given (the simulated account is live AWS)",
                       merged["source"])
    params = InvestigationParameters(**merged)
    if require_target:
        check_target(params)
    return params


def _days(name: str, value: Any) -> int:
    """A whole number of days CloudTrail's event history still holds (0 to 90)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 90:
        raise BadInput(name, "a whole number of days between 0 and 90 (CloudTrail lookup-events keeps 90 days)",
                       value)
    return value


def check_target(params: InvestigationParameters) -> None:
    """Raise BadInput unless the instance id and Region are known (or a scenario will resolve them)."""
    if not params.scenario:
        for name in ("instance_id", "region"):
            if name == "instance_id" and params.entry_point:
                continue  # resolved from the Auto Scaling group, fleet or error text
            if not getattr(params, name):
                raise BadInput(name, "a value (or a scenario, or for instance_id: asg, fleet_id or error_text) "
                                     "for a headless run", "")


def from_namespace(namespace: Mapping[str, Any]) -> InvestigationParameters:
    """Validate the parameters found in a notebook's globals.

    Every public, plain-valued global (str, int, float, bool, None, list, dict) counts as a parameter,
    so a misspelt or unknown parameter injected by papermill is reported rather than silently ignored.
    """
    plain = (str, int, float, bool, type(None), list, dict)
    values = {name: value for name, value in namespace.items()
              if not name.startswith("_") and name not in _KERNEL_NAMES and isinstance(value, plain)}
    unknown = sorted(set(values) - set(PARAMETERS))
    if unknown:
        raise BadInput(unknown[0], "a known parameter (" + ", ".join(PARAMETERS) + "); a variable of your own "
                       "in the notebook needs a name starting with _", values[unknown[0]])
    return validate(values)


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadInput(name, "a string", value)
    return value.strip()


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise BadInput(name, "true or false", value)


def _minutes(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadInput(name, f"a whole number of minutes from 0 to {MAX_WINDOW_MINUTES}", value)
    try:
        minutes = int(value)
    except ValueError:
        raise BadInput(name, f"a whole number of minutes from 0 to {MAX_WINDOW_MINUTES}", value) from None
    if not 0 <= minutes <= MAX_WINDOW_MINUTES:
        raise BadInput(name, f"a whole number of minutes from 0 to {MAX_WINDOW_MINUTES}", value)
    return minutes


def _match(name: str, value: str, pattern: re.Pattern[str], expected: str) -> None:
    if value and not pattern.match(value):
        raise BadInput(name, expected, value)


def _check_source(source: str) -> None:
    expected = "live, bundle:DIR or cli:DIR with an existing folder"
    if source == "live":
        return
    kind, _, folder = source.partition(":")
    if kind not in {"bundle", "cli"} or not folder:
        raise BadInput("source", expected, source)
    if not Path(folder).expanduser().is_dir():
        raise BadInput("source", expected, source)


ATHENA_SOURCE_EXPECTED = ("athena:DATABASE.TABLE, optionally followed by "
                          "?workgroup=NAME&output=s3://bucket/prefix/&region=REGION (names of letters, digits and _)")
_ATHENA_NAME = re.compile(r"^[A-Za-z0-9_]{1,255}$")
_WORKGROUP = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True)
class AthenaSource:
    """`cloudtrail_source: athena:DATABASE.TABLE[?workgroup=W&output=s3://bucket/prefix/&region=R]`: the
    CloudTrail table to query, the workgroup to run in (default `primary`), where results go (default: the
    workgroup's own output location) and the Region of Athena and its catalog (default: the instance's)."""

    database: str
    table: str
    workgroup: str = "primary"
    output_location: str = ""
    region: str = ""

    def to_source(self) -> str:
        """The source string back (what `parse_athena_source` reads)."""
        options = [f"workgroup={self.workgroup}"] if self.workgroup != "primary" else []
        options += [f"output={self.output_location}"] if self.output_location else []
        options += [f"region={self.region}"] if self.region else []
        return f"athena:{self.database}.{self.table}" + ("?" + "&".join(options) if options else "")


def is_athena_source(value: str | None) -> bool:
    """Whether a cloudtrail_source names an Athena table (`athena:...`)."""
    return isinstance(value, str) and value.startswith("athena:")


def parse_athena_source(value: str, field: str = "cloudtrail_source") -> AthenaSource:
    """`athena:DATABASE.TABLE[?workgroup=W&output=s3://...]` as an AthenaSource; BadInput naming `field`."""
    if not is_athena_source(value):
        raise BadInput(field, ATHENA_SOURCE_EXPECTED, value)
    name, _, query = value[len("athena:"):].partition("?")
    database, dot, table = name.partition(".")
    if not dot or not _ATHENA_NAME.match(database) or not _ATHENA_NAME.match(table):
        raise BadInput(field, ATHENA_SOURCE_EXPECTED, value)
    options: dict[str, str] = {}
    for item in query.split("&") if query else []:
        key, eq, option = item.partition("=")
        if not eq or key not in ("workgroup", "output", "region") or key in options:
            raise BadInput(field, ATHENA_SOURCE_EXPECTED, value)
        options[key] = option
    workgroup = options.get("workgroup", "primary")
    if not _WORKGROUP.match(workgroup):
        raise BadInput(f"{field} (workgroup)", "an Athena workgroup name (letters, digits, . _ -)", workgroup)
    output = options.get("output", "")
    if output and (not output.startswith("s3://") or len(output) <= len("s3://") or any(c in output for c in " '\"")):
        raise BadInput(f"{field} (output)", "an S3 location like s3://bucket/prefix/", output)
    region = options.get("region", "")
    if region and not REGION.match(region):
        raise BadInput(f"{field} (region)", "a Region code like eu-west-1", region)
    return AthenaSource(database.lower(), table.lower(), workgroup, output, region)


def _check_cloudtrail_source(value: str) -> None:
    if is_athena_source(value):
        parse_athena_source(value)
        return
    if not value or value == "lookup" or value.startswith("s3://"):
        if value.startswith("s3://") and len(value) <= len("s3://"):
            raise BadInput("cloudtrail_source", "s3://bucket/prefix", value)
        return
    if not Path(value).expanduser().is_dir():
        raise BadInput("cloudtrail_source",
                       "lookup, an existing log folder, s3://bucket/prefix or athena:DATABASE.TABLE", value)
