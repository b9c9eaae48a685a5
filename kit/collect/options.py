"""Investigation parameters as collection options: the one translation the notebook's Investigation,
`kit batch`'s shared evidence and `kit collect` use (source, window, CloudTrail source, profile, role)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kit.collect.cloudtrail_window import CollectWindow
from kit.params import InvestigationParameters, validate

if TYPE_CHECKING:  # boto3 only when a session is made
    import boto3

    from kit.collect.clients import CallRecorder


@dataclass(frozen=True)
class CollectOptions:
    """What collecting one instance's evidence needs from the parameters."""

    source: str  # live | bundle:DIR | cli:DIR
    instance_id: str
    region: str
    window: CollectWindow
    cloudtrail_source: str | None  # None: CloudTrail LookupEvents
    profile: str | None
    role_arn: str | None
    org_role_arn: str | None = None  # a role in the management account: SCP changes are recorded there

    @property
    def own_credentials(self) -> bool:
        """A profile or a role to assume is given (else the default credential chain)."""
        return bool(self.profile or self.role_arn)

    def session(self, *, recorder: CallRecorder | None = None, session_name: str = "kit-collect") -> boto3.Session:
        """A session with the profile and role (kit.collect.clients.make_session)."""
        from kit.collect.clients import make_session

        return make_session(profile=self.profile, role_arn=self.role_arn, region=self.region,
                            session_name=session_name, recorder=recorder)

    def org_session(self, *, recorder: CallRecorder | None = None,
                    session_name: str = "kit-collect-org") -> boto3.Session | None:
        """A session as `org_role_arn` (assumed with the profile's credentials), or None when not given."""
        from kit.collect.clients import make_session

        if not self.org_role_arn:
            return None
        return make_session(profile=self.profile, role_arn=self.org_role_arn, region="us-east-1",
                            session_name=session_name, recorder=recorder, parameter="org_role_arn")

    def load_options(self, session: boto3.Session | None = None,
                     org_session: boto3.Session | None = None) -> dict[str, Any]:
        """Keyword options for kit.collect.load_evidence: the window, the CloudTrail source when given, a
        session when collecting live: `session` when given (one made earlier for these options), else a new
        one with the profile or role (else none: the collector makes one from the standard chain), and the
        management account's session when `org_role_arn` is given: `org_session` when given (one assumed
        earlier, kept by the caller), else the role assumed now."""
        options: dict[str, Any] = {"window": self.window}
        if self.cloudtrail_source:
            options["cloudtrail_source"] = self.cloudtrail_source
        if self.source == "live" and (session is not None or self.own_credentials):
            options["session"] = session or self.session()
        if self.source == "live" and self.org_role_arn:
            options["org_session"] = org_session or self.org_session()
        return options


def collect_options(params: InvestigationParameters) -> CollectOptions:
    """The collection options of validated investigation parameters."""
    return CollectOptions(
        source=params.source, instance_id=params.instance_id, region=params.region,
        window=CollectWindow(before_minutes=params.window_before_minutes, after_minutes=params.window_after_minutes,
                            change_lookback_days=params.change_lookback_days),
        cloudtrail_source=params.cloudtrail_source or None, profile=params.profile or None,
        role_arn=params.role_arn or None, org_role_arn=params.org_role_arn or None)


def parameters_from_args(args: argparse.Namespace) -> InvestigationParameters:
    """`kit collect`'s options (--instance-id, --region, --profile, --role-arn, --org-role-arn,
    --window-before/-after, --cloudtrail-source) as validated investigation parameters of a live collection."""
    values: dict[str, Any] = {"source": "live", "instance_id": args.instance_id, "region": args.region,
                              "profile": args.profile or "", "role_arn": args.role_arn or "",
                              "org_role_arn": getattr(args, "org_role_arn", None) or "",
                              "cloudtrail_source": args.cloudtrail_source or ""}
    if args.window_before is not None:
        values["window_before_minutes"] = args.window_before
    if args.window_after is not None:
        values["window_after_minutes"] = args.window_after
    return validate(values)
