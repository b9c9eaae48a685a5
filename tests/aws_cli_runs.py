"""The `cli:` evidence a customer would send: every checklist command run by the real AWS CLI."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import boto3

from kit.collect.cli_commands import checklist
from kit.evidence import Evidence
from kit.report.demo import environment
from kit.simulate.organization import change_reader_arn


def management_credentials() -> contextlib.AbstractContextManager[None]:
    """The process's AWS credentials switched to the management account's reader role (assumed on the
    simulated account), for the checklist's commands that must run there; restored afterwards."""
    creds = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=change_reader_arn(), RoleSessionName="kit-test-org")["Credentials"]
    return environment({"AWS_ACCESS_KEY_ID": creds["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
                        "AWS_SESSION_TOKEN": creds["SessionToken"]})


def run_cli_folder(evidence: Evidence, folder: Path, *, management: bool = True) -> Path:
    """A genuine cli: folder: every checklist command for the instance (ids from the live evidence), run by
    the real AWS CLI (awscli's own driver, in process to spare hundreds of interpreter start-ups) against the
    simulated account named by the environment; those the checklist marks for the organization's management
    account with its reader role's credentials (`management`; else not run). A command that fails leaves no
    file, as it would for a customer."""
    from awscli.clidriver import create_clidriver

    folder.mkdir(parents=True, exist_ok=True)
    for command in checklist(evidence.documents, evidence.instance_id, evidence.region):
        if command.account == "management" and not management:
            continue
        out, err = io.StringIO(), io.StringIO()
        where = management_credentials() if command.account == "management" else contextlib.nullcontext()
        with where, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = create_clidriver().main(list(command.argv[1:]))
        if code == 0:
            (folder / command.file_name).write_text(out.getvalue(), encoding="utf-8")
    assert (folder / "ec2.describe-instances.json").exists(), "the AWS CLI could not describe the instance"
    return folder
