"""Issue 16 #13: evidence is read only from inside its folder. A symbolic link in a cli: folder is skipped with a
gap (never shown as evidence); a bundle holding one is refused by name, even when the link's target carries the
bytes the manifest hashed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kit.collect.bundle import MANIFEST, load_bundle, write_bundle
from kit.errors import BadInput
from kit.evidence import Evidence
from tests.test_cli_folder import load_quietly, sample_documents, write_folder

@pytest.fixture
def evidence() -> Evidence:
    return Evidence("i-0abc12345678def01", "eu-west-1", sample_documents())


OUTSIDE_POLICY = {"Version": "2012-10-17", "Statement": [{"Sid": "PlantedFromOutside", "Effect": "Allow",
                                                           "Principal": "*", "Action": "kms:*", "Resource": "*"}]}


def test_a_symlinked_file_in_a_cli_folder_is_skipped_with_a_gap(tmp_path: Path) -> None:
    documents = sample_documents()
    key_policy = next(name for name in documents if name.startswith("kms.get-key-policy."))
    documents.pop(key_policy)
    folder = write_folder(tmp_path / "cli", documents)
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"Policy": json.dumps(OUTSIDE_POLICY), "PolicyName": "default"}))
    (folder / key_policy).symlink_to(outside)

    evidence, warnings = load_quietly(folder)

    assert key_policy not in evidence.documents
    assert "PlantedFromOutside" not in json.dumps(evidence.documents)
    gap = next(g for g in evidence.gaps if key_policy in g.impact and "symbolic link" in g.impact)
    assert gap.error == "invalid-file"
    assert any(key_policy in w for w in warnings)


def test_a_symlinked_folder_in_a_cli_folder_is_not_walked(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "cli", sample_documents())
    elsewhere = tmp_path / "elsewhere" / "AWSLogs"
    elsewhere.mkdir(parents=True)
    (elsewhere / "planted.json").write_text(json.dumps({"Records": [{"eventID": "planted", "eventName": "X"}]}))
    (folder / "cloudtrail-logs").symlink_to(tmp_path / "elsewhere", target_is_directory=True)

    evidence, _ = load_quietly(folder)

    assert "planted" not in json.dumps(evidence.documents)
    assert any("cloudtrail-logs" in g.impact and "symbolic link" in g.impact for g in evidence.gaps)


def test_a_bundle_file_replaced_by_a_link_to_the_same_bytes_is_refused(tmp_path: Path, evidence) -> None:
    bundle = write_bundle(evidence, tmp_path / "bundle")
    target = bundle / "ec2.describe-volumes.json"
    outside = tmp_path / "outside.json"
    shutil.copyfile(target, outside)  # same bytes: the manifest's sha256 still matches through the link
    target.unlink()
    target.symlink_to(outside)
    with pytest.raises(BadInput) as err:
        load_bundle(bundle)
    assert err.value.field == "ec2.describe-volumes.json"
    assert "symbolic link" in str(err.value)


def test_a_symlinked_manifest_is_refused(tmp_path: Path, evidence) -> None:
    bundle = write_bundle(evidence, tmp_path / "bundle")
    outside = tmp_path / "manifest-outside.json"
    shutil.copyfile(bundle / MANIFEST, outside)
    (bundle / MANIFEST).unlink()
    (bundle / MANIFEST).symlink_to(outside)
    with pytest.raises(BadInput) as err:
        load_bundle(bundle)
    assert err.value.field == MANIFEST


def test_bundle_files_swapped_between_names_are_refused_even_with_a_rehashed_manifest(tmp_path: Path,
                                                                                      evidence) -> None:
    """Issue 16 #15: each bundle file must hold what its name says."""
    import hashlib

    bundle = write_bundle(evidence, tmp_path / "bundle")
    volumes, aliases = bundle / "ec2.describe-volumes.json", bundle / "kms.list-aliases.json"
    volume_bytes, alias_bytes = volumes.read_bytes(), aliases.read_bytes()
    volumes.write_bytes(alias_bytes)
    aliases.write_bytes(volume_bytes)
    manifest = json.loads((bundle / MANIFEST).read_text())
    for entry in manifest["files"]:
        entry["sha256"] = hashlib.sha256((bundle / entry["path"]).read_bytes()).hexdigest()
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BadInput) as err:
        load_bundle(bundle)
    assert err.value.field in {"ec2.describe-volumes.json", "kms.list-aliases.json"}
    assert "as the file name says" in str(err.value)
