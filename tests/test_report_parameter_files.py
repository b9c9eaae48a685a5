"""parameters/: demo.yaml, the live template and one file per scenario, all valid parameters."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kit.params import validate
from kit.simulate import load_catalogue

FOLDER = Path(__file__).resolve().parents[1] / "parameters"


def test_one_parameter_file_per_scenario() -> None:
    names = {s.name for s in load_catalogue()}
    files = {p.stem for p in FOLDER.glob("*.yaml")} - {"demo", "live.example"}
    assert files == names
    for name in names:
        params = validate(yaml.safe_load((FOLDER / f"{name}.yaml").read_text()), require_target=True)
        assert params.scenario == name and params.interactive is False and params.out_dir


@pytest.mark.parametrize("name", ["demo.yaml", "live.example.yaml"])
def test_demo_and_live_template_validate(name: str) -> None:
    text = (FOLDER / name).read_text()
    params = validate(yaml.safe_load(text), require_target=True)
    assert params.interactive is False
    if name == "live.example.yaml":
        assert params.source == "live" and not params.scenario
        for commented in ("profile", "role_arn", "cloudtrail_source"):
            assert f"# {commented}:" in text  # documented, left for the analyst to fill in
