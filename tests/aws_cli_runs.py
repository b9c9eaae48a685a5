"""The `cli:` evidence a customer would send: every checklist command run by the real AWS CLI."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from kit.collect.cli_commands import checklist
from kit.evidence import Evidence


def run_cli_folder(evidence: Evidence, folder: Path) -> Path:
    """A genuine cli: folder: every checklist command for the instance (ids from the live evidence), run by
    the real AWS CLI (awscli's own driver, in process to spare hundreds of interpreter start-ups) against the
    simulated account named by the environment; a command that fails leaves no file, as it would for a
    customer."""
    from awscli.clidriver import create_clidriver

    folder.mkdir(parents=True, exist_ok=True)
    for command in checklist(evidence.documents, evidence.instance_id, evidence.region):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = create_clidriver().main(list(command.argv[1:]))
        if code == 0:
            (folder / command.file_name).write_text(out.getvalue(), encoding="utf-8")
    assert (folder / "ec2.describe-instances.json").exists(), "the AWS CLI could not describe the instance"
    return folder
