"""Issue 16 #8 and its fuzz test: random types at every JSON path of real-shaped cli: files and bundles never
crash the investigation. Loading, frames and the diagnosis end either with findings (the bad file skipped
with a gap) or with BadInput naming the file; never another exception."""

from __future__ import annotations

import copy
import hashlib
import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.collect.bundle import MANIFEST, load_bundle, write_bundle
from kit.collect.cli_folder import load_cli_folder
from kit.diagnose import diagnose
from kit.errors import BadInput
from kit.evidence import Evidence
from kit.frames import build_frames
from tests.test_cli_folder import sample_documents, write_folder

BASE = sample_documents()


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*path, i))
    return found


EVERY_PATH = [(name, path) for name, document in BASE.items() for path in _paths(document)]
ODD_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                        max_size=3), max_leaves=6)


def _replaced(name: str, path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    documents = copy.deepcopy(BASE)
    if not path:
        documents[name] = value
        return documents
    target = documents[name]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return documents


def _investigate(load: Any) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            evidence = load()
            findings = diagnose(evidence, build_frames(evidence))
    except BadInput:
        return
    assert findings.verdict.cause


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(EVERY_PATH), value=ODD_VALUES)
def test_any_value_anywhere_in_a_cli_folder_never_crashes_the_investigation(where: tuple[str, tuple[Any, ...]],
                                                                             value: Any) -> None:
    name, path = where
    with tempfile.TemporaryDirectory() as scratch:
        folder = write_folder(Path(scratch) / "cli", _replaced(name, path, value))
        _investigate(lambda: load_cli_folder(folder))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(where=st.sampled_from(EVERY_PATH), value=ODD_VALUES)
def test_any_value_anywhere_in_a_rehashed_bundle_never_crashes_the_investigation(where: tuple[str, tuple[Any, ...]],
                                                                                  value: Any) -> None:
    name, path = where
    with tempfile.TemporaryDirectory() as scratch:
        bundle = write_bundle(Evidence("i-0abc12345678def01", "eu-west-1", copy.deepcopy(BASE)), Path(scratch) / "b")
        (bundle / name).write_text(json.dumps(_replaced(name, path, value)[name]))
        manifest = json.loads((bundle / MANIFEST).read_text())
        for entry in manifest["files"]:
            entry["sha256"] = hashlib.sha256((bundle / entry["path"]).read_bytes()).hexdigest()
        (bundle / MANIFEST).write_text(json.dumps(manifest))
        _investigate(lambda: load_bundle(bundle))


def test_a_wrongly_typed_nested_field_is_skipped_with_a_gap_naming_it(tmp_path: Path) -> None:
    documents = _replaced("ec2.describe-volumes.json", ("Volumes", 0, "Attachments"), "not a list")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evidence = load_cli_folder(write_folder(tmp_path / "cli", documents))
    assert "ec2.describe-volumes.json" not in evidence.documents
    gap = next(g for g in evidence.gaps if "ec2.describe-volumes.json" in g.impact)
    assert gap.error == "invalid-file" and "Volumes[0].Attachments should be a list" in gap.impact
