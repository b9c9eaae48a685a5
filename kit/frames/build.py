"""`build_frames`: the evidence of any source as typed, validated, deterministically ordered DataFrames."""

from __future__ import annotations

from dataclasses import dataclass, fields

import pandas as pd

from kit.aws_ids import instance_account
from kit.evidence import Evidence
from kit.frames import autoscaling, ec2, iam, kms
from kit.frames.cloudtrail import events_frame, records_from_documents
from kit.frames.keyrefs import KeyResolver
from kit.frames.schemas import FrameSchemaError, frame_from_rows, load_schemas, validate_frame


@dataclass(frozen=True)
class Frames:
    """Every frame of kit/frames/schemas.json, plus the instance, Region and account they are about."""

    instances: pd.DataFrame
    volumes: pd.DataFrame
    snapshots: pd.DataFrame
    images: pd.DataFrame
    keys: pd.DataFrame
    key_policy_statements: pd.DataFrame
    grants: pd.DataFrame
    aliases: pd.DataFrame
    events: pd.DataFrame
    principals: pd.DataFrame
    identity_statements: pd.DataFrame
    ebs_defaults: pd.DataFrame
    autoscaling_activities: pd.DataFrame
    launch_template_volumes: pd.DataFrame
    instance_id: str
    region: str
    account_id: str | None

    @classmethod
    def frame_names(cls) -> list[str]:
        """Names of the DataFrame fields, in schema order."""
        return [f.name for f in fields(cls) if f.type in ("pd.DataFrame", pd.DataFrame)]

    def validate(self) -> None:
        """Raise FrameSchemaError unless every frame matches its schema."""
        for name in self.frame_names():
            validate_frame(name, getattr(self, name))


def build_frames(evidence: Evidence) -> Frames:
    """Typed frames from evidence of any source (live, bundle:DIR, cli:DIR), validated against schemas.json."""
    account_id = account_of_evidence(evidence)
    keys = KeyResolver(evidence.region, account_id, kms.described_key_arns(evidence), kms.aliases_of(evidence))
    policies = kms.key_policies(evidence, keys)
    frames = Frames(
        instances=frame_from_rows("instances", ec2.instance_rows(evidence)),
        volumes=frame_from_rows("volumes", ec2.volume_rows(evidence, keys)),
        snapshots=frame_from_rows("snapshots", ec2.snapshot_rows(evidence, keys)),
        images=frame_from_rows("images", ec2.image_rows(evidence, keys)),
        keys=frame_from_rows("keys", kms.key_rows(evidence, keys, policies)),
        key_policy_statements=frame_from_rows("key_policy_statements", kms.key_policy_statement_rows(policies)),
        grants=frame_from_rows("grants", kms.grant_rows(evidence, keys)),
        aliases=frame_from_rows("aliases", kms.alias_rows(evidence, keys)),
        events=events_frame(records_from_documents(evidence)),
        principals=frame_from_rows("principals", iam.principal_rows(evidence)),
        identity_statements=frame_from_rows("identity_statements", iam.identity_statement_rows(evidence, account_id)),
        ebs_defaults=frame_from_rows("ebs_defaults", ec2.ebs_default_rows(evidence, keys)),
        autoscaling_activities=frame_from_rows("autoscaling_activities", autoscaling.activity_rows(evidence)),
        launch_template_volumes=frame_from_rows("launch_template_volumes",
                                                ec2.launch_template_volume_rows(evidence, keys)),
        instance_id=evidence.instance_id,
        region=evidence.region,
        account_id=account_id,
    )
    if set(Frames.frame_names()) != set(load_schemas()):
        raise FrameSchemaError(f"Frames {Frames.frame_names()} and schemas.json {list(load_schemas())} disagree")
    frames.validate()
    return frames


def account_of_evidence(evidence: Evidence) -> str | None:
    """The instance's account (kit.aws_ids.instance_account): its reservation's OwnerId, else who collected."""
    return instance_account(evidence.documents, evidence.instance_id, collector_arn=evidence.collector_arn)
