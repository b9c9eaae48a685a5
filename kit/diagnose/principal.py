"""The launching principal: who called StartInstances / RunInstances, reported as an IAM user or role ARN."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from kit.aws_ids import ASSUMED_ROLE_ARN, ROLE_ARN
from kit.diagnose.launchers import LauncherClass, LauncherFacts, classify
from kit.frames.launch_paths import path_of
if TYPE_CHECKING:
    from kit.diagnose.kms_events import KmsFailure

LauncherKind = Literal["user", "role", "sso-role", "service-linked-role", "automation-role", "root", "unknown"]
# how the kit knows; launch-path: the service-linked role a launch path (a Spot request) launches as
LauncherSource = Literal["launch-event", "kms-event", "autoscaling-tag", "parameter", "launch-path"]

SSO_PATH = "/aws-reserved/sso.amazonaws.com/"
SERVICE_ROLE_PATH = "/aws-service-role/"
AUTOSCALING_ROLE = "AWSServiceRoleForAutoScaling"
# User agents and callers that mark a launch as made by automation rather than a person.
AUTOMATION_MARKERS = ("aws_lambda", "exec-env/aws_lambda", "scheduler.amazonaws.com", "ssm.amazonaws.com",
                      "events.amazonaws.com", "karpenter", "packer", "terraform", "cloudformation.amazonaws.com",
                      "codebuild", "github-actions")


@dataclass(frozen=True)
class Launcher:
    """The principal behind the launch."""

    arn: str  # IAM user or role ARN (a role session is reported as its role, with its path when known)
    kind: LauncherKind
    account_id: str | None
    session_arn: str | None  # the STS session ARN when a role session launched
    source: LauncherSource
    service: str | None = None  # for service-linked roles: the service, e.g. autoscaling.amazonaws.com
    launcher_class: LauncherClass | None = None  # kit/diagnose/launchers.yaml: who it is, who can fix it
    path: str | None = None  # the launch call (RunInstances, CreateFleet, RequestSpotInstances, ...)
    path_words: str | None = None  # that call in words ("a Spot request (RequestSpotInstances)")
    requested_by: str | None = None  # who made the launch call when a service launched for them
    requested_by_class: LauncherClass | None = None  # that caller's class ("AWS Batch's service-linked role X")

    @property
    def launched_by(self) -> str:
        """The launcher in words a reader recognises: "Karpenter's controller role X, through CreateFleet"."""
        who = self.launcher_class.label if self.launcher_class else self.arn
        if not self.path_words:
            return who
        requester = self.requested_by_class.label if self.requested_by_class else self.requested_by
        by = f" by {requester}" if self.requested_by and self.requested_by != self.arn else ""
        return f"{who}, through {self.path_words}{by}"

    @property
    def request_type(self) -> str:
        """The kit.policy principal_type for this principal's calls."""
        if self.kind == "user":
            return "user"
        if self.kind == "root":
            return "root"
        if self.kind == "service-linked-role":
            return "service_linked_role_session"
        return "role_session"

    @property
    def confirmed(self) -> bool:
        """CloudTrail names this principal (rather than a tag or a parameter suggesting it)."""
        return self.source in ("launch-event", "kms-event")


def launcher_from(launch_event: dict[str, Any] | None, kms_failures: list[KmsFailure], principals: pd.DataFrame,
                  autoscaling_group: str | None, hinted_arn: str | None,
                  account_id: str | None = None) -> Launcher | None:
    """The launcher from the launch event, else the KMS failure's caller, else a given hint, else the
    Auto Scaling service-linked role for an instance of an Auto Scaling group."""
    if launch_event and launch_event.get("principal_arn"):
        return describe(launch_event["principal_arn"], launch_event.get("identity_arn"), principals,
                        "launch-event", launch_event.get("user_agent"), launch_event.get("invoked_by"))
    for failure in kms_failures:
        if failure.principal_arn and not failure.infrastructure:
            return describe(failure.principal_arn, failure.identity_arn, principals, "kms-event")
    if hinted_arn:
        return describe(str(hinted_arn), None, principals, "parameter")
    if autoscaling_group:
        role = _role_by_name(principals, AUTOSCALING_ROLE) or (
            f"arn:aws:iam::{account_id}:role{SERVICE_ROLE_PATH}autoscaling.amazonaws.com/{AUTOSCALING_ROLE}"
            if account_id else None)
        if role:
            return describe(role, None, principals, "autoscaling-tag")
    return None


def with_launch_path(launcher: Launcher | None, launch_event: dict[str, Any] | None,
                     kms_failures: list[KmsFailure], principals: pd.DataFrame,
                     account_id: str | None) -> Launcher | None:
    """The launcher with its class and launch path. When the launch call is fulfilled by a service (a Spot
    request, a request/maintain EC2 Fleet), the launcher is the service-linked role EC2 asked KMS for (the KMS
    failure's caller, else the path's role) and the caller of the launch call is `requested_by`."""
    path = path_of((launch_event or {}).get("event_name"))
    record = (launch_event or {}).get("record") if launch_event else None
    role = path.launching_role(record) if path else None
    requested_by = None
    requested_by_class = None
    event = launch_event
    if role and launcher is not None and launcher.source == "launch-event":
        requested_by = launcher.arn
        requested_by_class = classify(launcher_facts(launcher, launch_event))
        caller = next((f for f in kms_failures if f.principal_arn and not f.infrastructure), None)
        owner = account_id or launcher.account_id
        if caller is not None:
            launcher = describe(caller.principal_arn or "", caller.identity_arn, principals, "kms-event",
                                None, caller.invoked_by)
            event = None
        elif owner:
            launcher = describe(role.arn(owner), None, principals, "launch-path")
            event = None
    if launcher is None:
        return None
    facts = launcher_facts(launcher, event)
    return replace(launcher, launcher_class=classify(facts), path=path.event_name if path else None,
                   path_words=path.words if path else None, requested_by=requested_by,
                   requested_by_class=requested_by_class)


def launcher_facts(launcher: Launcher, event: dict[str, Any] | None) -> LauncherFacts:
    """What CloudTrail and the ARN say about a launcher (for kit.diagnose.launchers.classify)."""
    match = ROLE_ARN.match(launcher.arn)
    name = match.group("name") if match else launcher.arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    path = "/" + match.group("path") if match else None
    record = (event or {}).get("record") or {}
    identity = record.get("userIdentity") if isinstance(record, dict) else None
    identity = identity if isinstance(identity, dict) else {}
    web = ((identity.get("sessionContext") or {}).get("webIdFederationData") or {}).get("federatedProvider")
    session = ASSUMED_ROLE_ARN.match(launcher.session_arn or "")
    return LauncherFacts(kind=launcher.kind, name=name, role_path=path,
                         invoked_by=_text((event or {}).get("invoked_by")) or launcher.service,
                         user_agent=_text((event or {}).get("user_agent")),
                         web_identity=_text(web), session_name=session["session"] if session else None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def describe(arn: str, identity_arn: str | None, principals: pd.DataFrame, source: LauncherSource,
             user_agent: str | None = None, invoked_by: str | None = None) -> Launcher:
    """Classify a principal ARN (recovering a role's path from the IAM evidence when the ARN lacks it)."""
    arn = _with_path(arn, principals)
    account = arn.split(":")[4] if arn.count(":") >= 5 else None
    session = identity_arn if identity_arn and ":assumed-role/" in identity_arn else None
    if ":user/" in arn:
        return Launcher(arn, "user", account, None, source)
    if arn.endswith(":root"):
        return Launcher(arn, "root", account, None, source)
    match = ROLE_ARN.match(arn)
    if not match:
        return Launcher(arn, "unknown", account, session, source)
    path = "/" + match.group("path")
    if path.startswith(SERVICE_ROLE_PATH):
        service = path[len(SERVICE_ROLE_PATH):].strip("/") or None
        return Launcher(arn, "service-linked-role", account, session, source, service)
    if path.startswith(SSO_PATH):
        return Launcher(arn, "sso-role", account, session, source)
    marks = " ".join(str(v).lower() for v in (user_agent, invoked_by) if v)
    if any(marker in marks for marker in AUTOMATION_MARKERS):
        return Launcher(arn, "automation-role", account, session, source)
    return Launcher(arn, "role", account, session, source)


def kind_label(kind: str) -> str:
    """Words for a principal kind."""
    return {"user": "IAM user", "role": "IAM role", "sso-role": "IAM Identity Center (SSO) role",
            "service-linked-role": "service-linked role", "automation-role": "automation role",
            "root": "account root", "unknown": "principal"}.get(kind, kind)


def _with_path(arn: str, principals: pd.DataFrame) -> str:
    """arn:aws:iam::A:role/Name -> the role's full ARN (with path) when the IAM evidence knows it."""
    match = ROLE_ARN.match(arn)
    if not match or match.group("path") or principals is None or not len(principals):
        return arn
    rows = principals[(principals["type"] == "role") & (principals["name"] == match.group("name"))
                      & (principals["account"] == match.group("account"))]
    return str(rows.iloc[0]["arn"]) if len(rows) else arn


def _role_by_name(principals: pd.DataFrame, name: str) -> str | None:
    if principals is None or not len(principals):
        return None
    rows = principals[(principals["type"] == "role") & (principals["name"] == name)]
    return str(rows.iloc[0]["arn"]) if len(rows) else None
