"""`cli:DIR`: a folder of AWS CLI outputs (as pasted into a ticket) read into the evidence model.

Every file is the stdout of one `aws ... --output json` command, named as contracts.md section 2 says; it is
kept as printed, except session tokens in CloudTrail records, masked as live collection masks them.
What is missing becomes a gap whose next step is the exact command to run; what is broken, mislabelled or
unknown is reported by name (a warning and a gap) and skipped; only a missing or unreadable
`ec2.describe-instances.json` stops the load (BadInput).
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

from kit.aws_ids import KEY_ARN
from kit.collect.cli_commands import (
    FileSpec,
    find_instance,
    missing_commands,
    region_from_zone,
    spec_for_file,
)
from kit.collect.cli_json import MAX_DEPTH, check_depth
from kit.collect.local_files import files_inside
from kit.collect.output_shapes import output_shape_problem
from kit.collect.redact import redact_log, redact_lookup
from kit.collect.secrets import mask_secrets
from kit.collect.limits import EvidenceTooLarge, gunzip_bounded, read_bounded
from kit.errors import BadInput
from kit.evidence import Evidence, Gap

REQUIRED = "ec2.describe-instances.json"


class CliFolderWarning(UserWarning):
    """A file of a cli: folder was skipped (unknown name, not JSON, or not the shape its name says)."""


def load_cli_folder(directory: str | Path, instance_id: str | None = None, region: str | None = None) -> Evidence:
    """Read a cli: folder. Instance id and Region default to what describe-instances (and key ARNs) say."""
    folder = Path(directory)
    if not folder.is_dir():
        raise BadInput("cli:DIR", "a folder of AWS CLI outputs", str(directory))
    documents: dict[str, Any] = {}
    gaps: list[Gap] = []
    rejected: dict[str, int] = {}  # skipped file -> index of its gap
    specs_of_rejected: dict[str, FileSpec] = {}
    found_files = files_inside(folder)
    for link in found_files.links:
        name = link.relative_to(folder).as_posix()
        _skip(gaps, name, "invalid-file", f"{name} is a symbolic link; evidence is read only from files inside "
              "the folder, so it was skipped.", "cli:" + name)
    for path in found_files.regular:
        name = path.relative_to(folder).as_posix()
        found = spec_for_file(name)
        if found is None:
            _skip(gaps, name, "unknown-file", f"{name} is not a file name the kit reads (docs/contracts.md section 2); skipped.", "cli:" + name)
            continue
        spec, qualifier = found
        try:
            document = read_json_file(path)
            problem = shape_problem(spec, qualifier, document)
        except EvidenceTooLarge as err:
            problem = f"too large ({err})"
        except ValueError as err:
            problem = f"not valid JSON ({err})"
            refused = aws_cli_error(path)
            if refused is not None and not spec.required:
                rejected[name] = len(gaps)  # its next step is the checklist's command, as for a missing file
                impact = spec.impact.format_map(_Every(qualifier or "it"))
                _skip(gaps, name, refused[0], f"{name} holds the AWS CLI's error instead of its output: "
                      f"{refused[0]}: {refused[1]}. {impact}", spec.call)
                continue
            if refused is not None:
                problem = f"the AWS CLI's error instead of its output ({refused[0]}: {refused[1]})"
        if problem:
            if spec.required:
                raise BadInput(name, "the JSON output of `aws ec2 describe-instances --output json`", problem)
            rejected[name] = len(gaps)
            impact = spec.impact.format_map(_Every(qualifier or "it"))
            _skip(gaps, name, "invalid-file", f"{name} was skipped: {problem}. {impact}", spec.call)
            specs_of_rejected[name] = spec
            continue
        documents[name] = _without_session_tokens(spec, document)
    if REQUIRED not in documents:
        raise BadInput(REQUIRED, "the output of `aws ec2 describe-instances --instance-ids I --output json` in the folder", "missing")
    instance = find_instance(documents[REQUIRED], instance_id)
    if instance is None:
        raise BadInput(REQUIRED, f"an instance {instance_id or ''}".strip(), "no such instance in the file")
    if instance_id is None:
        every = _instance_ids(documents[REQUIRED])
        if len(every) > 1:
            raise BadInput("instance_id", f"one of {', '.join(every)} (the file describes several instances)", None)
    if not isinstance(instance.get("InstanceId"), str):
        raise BadInput(REQUIRED, "instances that carry their InstanceId", "an instance without one")
    instance_id = instance_id or instance["InstanceId"]
    region = region or _region(instance, documents)
    for command in missing_commands(documents, instance_id, region):
        if command.file_name in rejected:
            index = rejected[command.file_name]
            gaps[index] = replace(gaps[index], next_step=command.command)
            continue
        gaps.append(Gap(command.call, "missing", command.impact, command.command))
    for name, spec in specs_of_rejected.items():  # not on the checklist: the command that prints such a file
        if gaps[rejected[name]].next_step is None:
            gaps[rejected[name]] = replace(gaps[rejected[name]], next_step=_command_for(spec, name, instance_id, region))
    caller = documents.get("sts.get-caller-identity.json") or {}
    return mask_secrets(Evidence(
        instance_id=instance_id,
        region=region,
        documents=documents,
        gaps=gaps,
        source=f"cli:{folder}",
        collector_arn=caller.get("Arn"),
        parameters={"instance_id": instance_id, "region": region},
    ))


def _command_for(spec: FileSpec, name: str, instance_id: str, region: str) -> str:
    """The AWS CLI command that prints a file like `name`, with what is known filled in and the rest left as
    <PLACEHOLDERS> (a skipped file the checklist does not ask for still gets its next command)."""
    known = {"instance_id": instance_id, "region": region, "key_region": region}
    words = []
    for word in spec.argv:
        if word.startswith("{") and word.endswith("}"):
            field = word.strip("{}*")
            words.append(known.get(field) or f"<{field.upper()}>")
        else:
            words.append(word)
    return " ".join(["aws", *words, "--output", "json", ">", name])


def _without_session_tokens(spec: FileSpec, document: Any) -> Any:
    """CloudTrail logs new sessions' tokens (AssumeRole* responses): masked as live collection masks them,
    so that evidence never holds one and a bundle can be written from any folder."""
    if spec.kind == "lookup-events":
        return redact_lookup(document)
    if spec.kind == "cloudtrail-logs":
        return redact_log(document)
    return document


def read_json_file(path: Path) -> Any:
    """One CLI output file: UTF-8 (a BOM and surrounding whitespace allowed) or UTF-16 with a BOM, gzipped
    when named .gz."""
    raw = read_bounded(path)
    if path.name.endswith(".gz"):
        try:
            raw = gunzip_bounded(raw)
        except (OSError, EOFError) as err:
            raise ValueError(f"not gzip: {err}") from err
    # Windows PowerShell 5 redirects (`aws ... > file.json`) write UTF-16 with a BOM
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        raise ValueError(f"not {encoding.upper()}: {err}") from err
    try:
        document = json.loads(text.strip())
    except RecursionError:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep") from None
    check_depth(document)
    return document


_CLI_ERROR = re.compile(r"\s*(?:aws: \[ERROR\]: )?An error occurred \(([\w.]+)\) when calling the \w+ operation"
                        r"(?: \(reached max retries: \d+\))?: ([^\r\n]*)")


def aws_cli_error(path: Path) -> tuple[str, str] | None:
    """(error code, message) when the file holds the AWS CLI's error line (`2>&1` redirected) instead of JSON."""
    raw = path.read_bytes()[:8192]
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    found = _CLI_ERROR.match(raw.decode(encoding, errors="replace"))
    return (found.group(1), found.group(2).strip()[:300]) if found else None


def shape_problem(spec: FileSpec, qualifier: str | None, document: Any) -> str | None:
    """Why `document` is not what a file of this kind holds, or None when it is."""
    if not isinstance(document, dict):
        return f"expected a JSON object, got {type(document).__name__}"
    expected = {"list": list, "object": dict, "string": str, "boolean": bool}
    present = [key for key in spec.shape if key in document]
    if spec.shape_any:
        if not present:
            return f"expected at least one of {sorted(spec.shape)} at the top level, got {sorted(document)[:5]}"
    elif len(present) != len(spec.shape):
        missing = [key for key in spec.shape if key not in document]
        return f"expected top-level {missing} (the output of {spec.call}), got {sorted(document)[:5]}"
    for key in present:
        if not isinstance(document[key], expected[spec.shape[key]]):
            return f"{key} should be a {spec.shape[key]}, got {type(document[key]).__name__}"
    for key, item_keys in spec.items.items():
        for i, item in enumerate(document.get(key) or []):
            if not isinstance(item, dict) or any(k not in item for k in item_keys):
                return f"{key}[{i}] should be an object with {item_keys}"
    for key in present:
        if spec.shape[key] == "list" and any(not isinstance(item, dict) for item in document[key]):
            return f"every item of {key} should be an object"
    return (output_shape_problem(spec.call, document) or _qualifier_problem(spec, qualifier, document)
            or _event_depth_problem(spec, document))


def _qualifier_problem(spec: FileSpec, qualifier: str | None, document: dict[str, Any]) -> str | None:
    if spec.kind == "key":
        metadata = document["KeyMetadata"]
        if qualifier not in (metadata.get("KeyId"), str(metadata.get("Arn", "")).rsplit("/", 1)[-1]):
            return f"it describes key {metadata.get('KeyId')!r}, not {qualifier!r} as its name says"
    if spec.kind == "grants":
        for grant in document["Grants"]:
            key = str(grant.get("KeyId", ""))
            if key and key != qualifier and not (KEY_ARN.match(key) and key.endswith(f"/{qualifier}")):
                return f"it lists grants of key {key!r}, not {qualifier!r} as its name says"
    if spec.kind == "key-policy":
        try:
            json.loads(document["Policy"])
        except (ValueError, RecursionError):
            return "Policy is not a JSON policy document"
    return None


def _event_depth_problem(spec: FileSpec, document: dict[str, Any]) -> str | None:
    """Lookup events whose `CloudTrailEvent` JSON string nests too deeply to be read later (not JSON: kept)."""
    if spec.kind != "lookup-events":
        return None
    for i, event in enumerate(document.get("Events") or []):
        raw = event.get("CloudTrailEvent")
        if not isinstance(raw, str):
            continue
        try:
            check_depth(json.loads(raw))
        except RecursionError:
            return f"Events[{i}].CloudTrailEvent is nested more than {MAX_DEPTH} levels deep"
        except ValueError as err:
            if "nested" in str(err):
                return f"Events[{i}].CloudTrailEvent is {err}"
    return None


def _instance_ids(document: dict[str, Any]) -> list[str]:
    return sorted({i.get("InstanceId") for r in document.get("Reservations") or [] for i in r.get("Instances") or []} - {None})


def _region(instance: dict[str, Any], documents: dict[str, Any]) -> str:
    zone = (instance.get("Placement") or {}).get("AvailabilityZone")
    region = region_from_zone(zone)
    if region:
        return region
    for volume in (documents.get("ec2.describe-volumes.json") or {}).get("Volumes") or []:
        match = KEY_ARN.match(str(volume.get("KmsKeyId", "")))
        if match:
            return match.group("region")
    raise BadInput("region", "a Region (--region), or an instance whose Placement names its availability zone", zone)


class _Every(dict):
    """Fills every placeholder of an impact text with the file's qualifier (a key id, a target id, ...)."""

    def __init__(self, value: str) -> None:
        super().__init__()
        self.value = value

    def __missing__(self, key: str) -> str:
        return self.value


def _skip(gaps: list[Gap], name: str, error: str, impact: str, call: str) -> None:
    warnings.warn(CliFolderWarning(impact), stacklevel=3)
    gaps.append(Gap(call=call, error=error, impact=impact))
