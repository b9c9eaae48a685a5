"""Evidence bundles (`kit collect`, `bundle:DIR`): the documents as files plus a hashed manifest.

A bundle is what an evidence archive needs to be: every document under its own name (`.json`
pretty-printed, `cloudtrail-logs/**.json.gz` gzipped), `manifest.json` listing each file's sha256 and the
call that produced it, every AWS call made and every gap. Loading verifies all of it; a tampered,
incomplete or padded bundle is bad input naming the file. Nothing that looks like a credential is written.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from kit import version
from kit.collect.cli_commands import spec_for_file
from kit.collect.cli_json import MAX_DEPTH, check_depth
from kit.collect.local_files import files_inside
from kit.aws_ids import ACCESS_KEY_ID
from kit.collect.secrets import SECRET_IN_TEXT, SESSION_TOKEN, environment_secrets, looks_secret, mask_secrets
from kit.collect.limits import EvidenceTooLarge, gunzip_bounded, read_bounded
from kit.errors import BadInput
from kit.evidence import Evidence, Gap

SCHEMA = "kit.bundle/1"
MANIFEST = "manifest.json"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def write_bundle(evidence: Evidence, out_dir: str | Path) -> Path:
    """Write `evidence` as a bundle into `out_dir` (new or empty) and return the folder.

    Refuses (BadInput naming the document) names that are not relative `.json`/`.json.gz` paths and any
    content that looks like an AWS credential; nothing is written then.
    """
    folder = Path(out_dir)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise BadInput("out", "a new or empty folder for the bundle", str(folder))
    payloads: dict[str, bytes] = {}
    files = []
    for name in sorted(evidence.documents):
        _check_name(name)
        _check_shape(name, evidence.documents[name])
        payloads[name] = _serialise(name, evidence.documents[name])
        found = spec_for_file(name)
        files.append({"path": name, "sha256": hashlib.sha256(payloads[name]).hexdigest(),
                      "call": found[0].call if found else None})
    manifest = {
        "schema": SCHEMA,
        "kit_version": version(),
        "collected_at": evidence.collected_at,
        "collector_arn": evidence.collector_arn,
        "region": evidence.region,
        "instance_id": evidence.instance_id,
        "source": evidence.source,
        "parameters": evidence.parameters,
        "files": files,
        "calls": evidence.calls,
        "gaps": [gap.to_dict() for gap in evidence.gaps],
    }
    payloads[MANIFEST] = (json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    for name in payloads:
        document = manifest if name == MANIFEST else evidence.documents[name]
        refuse_credentials(name, document)
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in payloads.items():
        path = folder.joinpath(*PurePosixPath(name).parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
    return folder


def load_bundle(directory: str | Path) -> Evidence:
    """Read a bundle, verifying the manifest, every listed file's sha256, and that no file is unlisted."""
    folder = Path(directory)
    if not folder.is_dir():
        raise BadInput("bundle:DIR", "a folder written by `kit collect`", str(directory))
    found_files = files_inside(folder)
    for link in found_files.links:
        raise BadInput(link.relative_to(folder).as_posix(), "a regular file inside the bundle",
                       "a symbolic link (evidence is read only from inside its folder)")
    manifest = _read_manifest(folder)
    listed = {entry["path"]: entry for entry in manifest["files"]}
    present = {p.relative_to(folder).as_posix() for p in found_files.regular} - {MANIFEST}
    for name in sorted(present - set(listed)):
        raise BadInput(name, f"only files listed in {MANIFEST}", "a file the manifest does not list")
    documents: dict[str, Any] = {}
    for name, entry in listed.items():
        path = folder.joinpath(*PurePosixPath(name).parts)
        if name not in present:
            raise BadInput(name, f"the file {MANIFEST} lists", "missing")
        try:
            payload = read_bounded(path)
        except EvidenceTooLarge as err:
            raise BadInput(name, "an evidence file within the kit's size budget", str(err)) from None
        digest = hashlib.sha256(payload).hexdigest()
        if digest != entry["sha256"]:
            raise BadInput(name, f"sha256 {entry['sha256']} (as {MANIFEST} says)", f"sha256 {digest}: the file was changed")
        documents[name] = _parse(name, payload)
        _check_shape(name, documents[name])
    return mask_secrets(Evidence(
        instance_id=manifest["instance_id"],
        region=manifest["region"],
        documents=documents,
        gaps=[Gap(g["call"], g["error"], g["impact"], g.get("next_step")) for g in manifest["gaps"]],
        source=f"bundle:{folder}",
        collector_arn=manifest.get("collector_arn"),
        collected_at=manifest.get("collected_at"),
        parameters=manifest.get("parameters") or {},
        calls=manifest["calls"],
    ))


# -- credentials -------------------------------------------------------------------------------------

# Fields where AWS itself reports which access key made a call (CloudTrail userIdentity.accessKeyId,
# LookupEvents AccessKeyId, GetCallerIdentity UserId as moto answers it): an id there, alone, is kept.
KEY_ID_NAMES = {"accesskeyid", "userid"}


def refuse_credentials(name: str, document: Any) -> None:
    """Raise BadInput (naming the file and where in it) when `document` holds something that looks like an
    AWS credential: a secret access key, a session token, an access key id anywhere but the fields where AWS
    reports which key made a call (KEY_ID_NAMES; beside a secret or token it is refused there too), or the
    secret or session token of the current environment."""
    for where, problem in _credential_findings(document, "", environment_secrets()):
        raise BadInput(f"{name}: {where or '/'}", "evidence without AWS credentials", problem)


def _credential_findings(value: Any, where: str, env_secrets: list[str]) -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        secret_beside = any(looks_secret(k, v) for k, v in value.items())
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            norm = re.sub(r"[^a-z]", "", str(key).lower())
            if looks_secret(key, item):
                yield here, "a secret access key or session token"
            elif norm in KEY_ID_NAMES and isinstance(item, str) and ACCESS_KEY_ID.fullmatch(item):
                if secret_beside:
                    yield here, "an access key id beside its secret"
            else:
                yield from _credential_findings(item, here, env_secrets)
            if isinstance(key, str):
                yield from _text_findings(key, here, env_secrets)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _credential_findings(item, f"{where}[{i}]", env_secrets)
    elif isinstance(value, str):
        yield from _text_findings(value, where, env_secrets)
        text = value.strip()
        if text.startswith("{") and len(text) > 2:
            try:
                nested = json.loads(text)
            except (ValueError, RecursionError):
                return
            yield from _credential_findings(nested, where + "(json)", env_secrets)


def _text_findings(text: str, where: str, env_secrets: list[str]) -> Iterator[tuple[str, str]]:
    if text.startswith("{"):
        return  # JSON inside a string: judged field by field once decoded
    if ACCESS_KEY_ID.search(text):
        yield where, "an AWS access key id"
    if SESSION_TOKEN.search(text):
        yield where, "an AWS session token"
    if SECRET_IN_TEXT.search(text):
        yield where, "an AWS secret access key"
    for secret in env_secrets:
        if secret in text:
            yield where, "a credential of the current environment"


# -- files -------------------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    path = PurePosixPath(name)
    if (
        not name
        or path.is_absolute()
        or ".." in path.parts
        or "\\" in name
        or name == MANIFEST
        or not (name.endswith(".json") or name.endswith(".json.gz"))
    ):
        raise BadInput(name, "a document name: a relative path ending .json or .json.gz, not manifest.json", name)


def _serialise(name: str, document: Any) -> bytes:
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    payload = text.encode("utf-8")
    if name.endswith(".gz"):
        return gzip.compress(payload, compresslevel=9, mtime=0)
    return payload


def _parse(name: str, payload: bytes) -> Any:
    try:
        if name.endswith(".gz"):
            payload = gunzip_bounded(payload)
        document = json.loads(payload.decode("utf-8-sig"))
        check_depth(document)
        return document
    except (OSError, EOFError, ValueError) as err:
        raise BadInput(name, "a JSON document (gzipped when named .gz)", str(err)) from err
    except RecursionError:
        raise BadInput(name, "a JSON document (gzipped when named .gz)", f"nested more than {MAX_DEPTH} levels deep") from None


def _check_shape(name: str, document: Any) -> None:
    """Refuse a file whose content is not what its name says (e.g. two files swapped, manifest rehashed)."""
    from kit.collect.cli_folder import shape_problem  # the cli: folder's shape table, one for both

    found = spec_for_file(name)
    if found is None:
        return
    problem = shape_problem(found[0], found[1], document)
    if problem:
        raise BadInput(name, f"the output of {found[0].call}, as the file name says", problem)


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise BadInput(MANIFEST, "the bundle's manifest", "missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        check_depth(manifest)
    except (OSError, ValueError) as err:
        raise BadInput(MANIFEST, "a JSON object", str(err)) from err
    except RecursionError:
        raise BadInput(MANIFEST, "a JSON object", f"nested more than {MAX_DEPTH} levels deep") from None
    if not isinstance(manifest, dict):
        raise BadInput(MANIFEST, "a JSON object", type(manifest).__name__)
    if manifest.get("schema") != SCHEMA:
        raise BadInput(f"{MANIFEST}: schema", repr(SCHEMA), manifest.get("schema"))
    required = {"instance_id": str, "region": str, "files": list, "calls": list, "gaps": list, "kit_version": str}
    for key, kind in required.items():
        if not isinstance(manifest.get(key), kind):
            raise BadInput(f"{MANIFEST}: {key}", f"a {kind.__name__}", manifest.get(key))
    for key in ("collected_at", "collector_arn"):
        if key not in manifest:
            raise BadInput(f"{MANIFEST}: {key}", "present (null allowed)", "missing")
    seen: set[str] = set()
    for i, entry in enumerate(manifest["files"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str) or not SHA256.match(str(entry.get("sha256"))):
            raise BadInput(f"{MANIFEST}: files[{i}]", '{"path": relative path, "sha256": 64 hex digits, "call"}', entry)
        try:
            _check_name(entry["path"])
        except BadInput as err:
            raise BadInput(f"{MANIFEST}: files[{i}].path", err.expected, entry["path"]) from err
        if entry["path"] in seen:
            raise BadInput(f"{MANIFEST}: files[{i}]", "each path listed once", entry["path"])
        seen.add(entry["path"])
    for i, gap in enumerate(manifest["gaps"]):
        if not isinstance(gap, dict) or not all(isinstance(gap.get(k), str) for k in ("call", "error", "impact")):
            raise BadInput(f"{MANIFEST}: gaps[{i}]", '{"call", "error", "impact"} strings', gap)
    for i, call in enumerate(manifest["calls"]):
        if not isinstance(call, dict) or "operation" not in call:
            raise BadInput(f"{MANIFEST}: calls[{i}]", '{"operation", "params", "at"}', call)
    return manifest
