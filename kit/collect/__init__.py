"""kit.collect: the only package that talks to AWS. `load_evidence` reads any evidence source."""

from __future__ import annotations

from typing import Any

from kit.errors import BadInput
from kit.evidence import Evidence

SOURCES = "live, bundle:DIR or cli:DIR"


def load_evidence(source: str, instance_id: str, region: str, **options: Any) -> Evidence:
    """Evidence for one instance from `live` (AWS, read-only), `bundle:DIR` or `cli:DIR`.

    `options` go to the live collector (session, window, cloudtrail_source).
    """
    if source == "live":
        from kit.collect.live import collect_live  # boto3 only when collecting live

        return collect_live(instance_id, region, **options)
    kind, _, location = (source or "").partition(":")
    if kind == "bundle" and location:
        from kit.collect.bundle import load_bundle

        evidence = load_bundle(location)
        _check_matches(evidence, instance_id, region, source)
        return evidence
    if kind == "cli" and location:
        from kit.collect.cli_folder import load_cli_folder

        return load_cli_folder(location, instance_id=instance_id or None, region=region or None)
    raise BadInput("source", SOURCES, source)


def _check_matches(evidence: Evidence, instance_id: str | None, region: str | None, source: str) -> None:
    if instance_id and evidence.instance_id != instance_id:
        raise BadInput("instance_id", f"the instance the bundle holds ({evidence.instance_id})", instance_id)
    if region and evidence.region != region:
        raise BadInput("region", f"the Region the bundle holds ({evidence.region})", region)
