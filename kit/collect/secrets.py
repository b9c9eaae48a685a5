"""Secrets found in evidence (a secret access key in an instance tag, a session token pasted into a
description): masked in the documents as they are loaded, so no report, findings.json, notebook or bundle
shows them, and each one reported as a gap that says where it was and to rotate it."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from typing import Any

from kit.evidence import Evidence, Gap

# What an AWS credential looks like (also what bundles refuse to hold, kit.collect.bundle).
SESSION_TOKEN = re.compile(r"(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz|AgoJb3JpZ2lu)[A-Za-z0-9/+=]{60,}")
SECRET_IN_TEXT = re.compile(r"(?i)(?:aws_)?secret_?access_?key[\"']?\s*[=:]\s*[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")
SECRET_VALUE = re.compile(r"^[A-Za-z0-9/+=]{40}$")
SECRET_NAMES = {"secretaccesskey", "awssecretaccesskey", "secretkey", "awssecretkey"}
TOKEN_NAMES = {"sessiontoken", "awssessiontoken", "securitytoken", "xamzsecuritytoken", "awssecuritytoken"}

MASK = "<masked: secret found in evidence>"
SECRET_CALL = "kit:secret-in-evidence"


def mask_secrets(evidence: Evidence) -> Evidence:
    """The evidence with every secret masked, plus one gap per file that held any (never the secret itself)."""
    env_secrets = environment_secrets()
    documents: dict[str, Any] = {}
    found: dict[str, list[str]] = {}
    for name, document in evidence.documents.items():
        places: list[str] = []
        documents[name] = _mask(document, "", places, env_secrets)
        if places:
            found[name] = places
    if not found:
        return evidence
    gaps = [Gap(SECRET_CALL, "SecretInEvidence",
                f"{name} held an AWS secret (at {', '.join(places[:5])}{' ...' if len(places) > 5 else ''}); it is "
                "masked in every output of the kit. Treat it as exposed: rotate that credential and remove it from "
                "where it is stored (a tag, a description, user data).", None)
            for name, places in found.items()]
    return replace(evidence, documents=documents, gaps=[*evidence.gaps, *gaps])


def _norm(key: Any) -> str:
    return re.sub(r"[^a-z]", "", str(key).lower())


def looks_secret(key: Any, value: Any) -> bool:
    """Whether `value`, stored under `key`, is a secret access key or a session token (by name and form)."""
    if not isinstance(value, str):
        return False
    if _norm(key) in SECRET_NAMES:
        return bool(SECRET_VALUE.match(value))
    if _norm(key) in TOKEN_NAMES:
        return len(value) >= 100 and re.fullmatch(r"[A-Za-z0-9/+=]+", value) is not None
    return False


def _mask(value: Any, where: str, places: list[str], env_secrets: list[str]) -> Any:
    if isinstance(value, dict):
        tag_name = value.get("Key") if isinstance(value.get("Key"), str) else None  # {"Key": ..., "Value": ...}
        masked: dict[Any, Any] = {}
        for key, item in value.items():
            here = f"{where}.{key}" if where else str(key)
            if looks_secret(key, item) or (key == "Value" and tag_name and looks_secret(tag_name, item)):
                places.append(here)
                masked[key] = MASK
            else:
                masked[key] = _mask(item, here, places, env_secrets)
        return masked
    if isinstance(value, list):
        return [_mask(item, f"{where}[{i}]", places, env_secrets) for i, item in enumerate(value)]
    if isinstance(value, str):
        return _mask_text(value, where, places, env_secrets)
    return value


def _mask_text(text: str, where: str, places: list[str], env_secrets: list[str]) -> str:
    stripped = text.strip()
    if stripped.startswith("{") and len(stripped) > 2:
        try:
            nested = json.loads(stripped)
        except (ValueError, RecursionError):
            nested = None
        if isinstance(nested, dict):
            before = len(places)
            masked = _mask(nested, where + "(json)", places, env_secrets)
            return json.dumps(masked) if len(places) > before else text
    masked_text = SECRET_IN_TEXT.sub(lambda m: m.group(0)[:-40] + MASK, text)
    masked_text = SESSION_TOKEN.sub(MASK, masked_text)
    for secret in env_secrets:
        masked_text = masked_text.replace(secret, MASK)
    if masked_text != text:
        places.append(where or "/")
    return masked_text


def environment_secrets() -> list[str]:
    """The current environment's AWS secret and session token (to mask or refuse wherever they appear)."""
    names = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
    return [os.environ[n] for n in names if len(os.environ.get(n, "")) >= 16]
