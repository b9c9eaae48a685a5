"""Issue 16 #4: a secret found in the evidence (an instance tag, say) is masked everywhere the kit would show it
(report.html, findings.json, the executed notebook) and reported as a gap that says to rotate it."""

from __future__ import annotations

import json
from pathlib import Path

from kit.collect.secrets import MASK, SECRET_CALL, mask_secrets
from kit.evidence import Evidence
from kit.report.run import run_investigation
from kit.params import validate
from tests.test_cli_folder import sample_documents, write_folder

SECRET = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"  # an AWS documentation example secret: 40 characters
TOKEN = "IQoJb3JpZ2luX2VjE" + "A" * 200


def _with_tags(documents: dict, tags: list[dict]) -> dict:
    instances = documents["ec2.describe-instances.json"]["Reservations"][0]["Instances"]
    instances[0]["Tags"] = [*instances[0].get("Tags", []), *tags]
    return documents


def test_secrets_in_tags_text_and_embedded_json_are_masked_and_reported() -> None:
    documents = _with_tags(sample_documents(), [
        {"Key": "SecretAccessKey", "Value": SECRET},
        {"Key": "notes", "Value": f"creds: aws_secret_access_key={SECRET} please rotate"},
        {"Key": "token", "Value": TOKEN},
    ])
    documents["cloudtrail.lookup-events.kms.json"] = {"Events": [{"EventId": "e1", "CloudTrailEvent": json.dumps(
        {"eventID": "e1", "requestParameters": {"description": f"secretAccessKey: {SECRET}"}})}]}
    evidence = Evidence("i-0abc12345678def01", "eu-west-1", documents)

    masked = mask_secrets(evidence)

    text = json.dumps(masked.documents)
    assert SECRET not in text and TOKEN not in text
    assert text.count("masked: secret") >= 4
    tags = masked.documents["ec2.describe-instances.json"]["Reservations"][0]["Instances"][0]["Tags"]
    assert {"Key": "SecretAccessKey", "Value": MASK} in tags
    assert json.loads(masked.documents["cloudtrail.lookup-events.kms.json"]["Events"][0]["CloudTrailEvent"])["eventID"] == "e1"
    gaps = [g for g in masked.gaps if g.call == SECRET_CALL]
    assert {g.impact.split(" held ")[0] for g in gaps} == {"ec2.describe-instances.json", "cloudtrail.lookup-events.kms.json"}
    assert all("rotate" in g.impact and SECRET not in g.impact for g in gaps)
    assert SECRET in json.dumps(evidence.documents), "the input is not changed in place"


def test_evidence_without_secrets_is_returned_unchanged() -> None:
    evidence = Evidence("i-0abc12345678def01", "eu-west-1", sample_documents())
    assert mask_secrets(evidence) is evidence


def test_a_secret_in_a_tag_reaches_no_output_of_a_headless_run(tmp_path: Path) -> None:
    documents = _with_tags(sample_documents(), [{"Key": "deploy-note", "Value": f"aws_secret_access_key = {SECRET}"},
                                                {"Key": "SecretAccessKey", "Value": SECRET}])
    folder = write_folder(tmp_path / "cli", documents)
    instance = documents["ec2.describe-instances.json"]["Reservations"][0]["Instances"][0]
    params = validate({"instance_id": instance["InstanceId"], "region": "eu-west-1", "source": f"cli:{folder}",
                       "interactive": False})
    result = run_investigation(params, tmp_path / "out")
    for name in ("report.html", "findings.json", "investigation.ipynb"):
        assert SECRET not in (tmp_path / "out" / name).read_text(), f"the secret is in {name}"
    findings = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert any(g["call"] == SECRET_CALL for g in findings["gaps"]), findings["gaps"]
    assert result.exit_code == 0
