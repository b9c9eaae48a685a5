"""Headless runs end to end: papermill executes the real notebook against the simulated account.

Every scenario runs in one shared kernel (started once with the simulated account's environment), so the
whole catalogue costs about one kernel start plus the investigations themselves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import nbformat
import papermill
import pytest
import yaml
from jupyter_client import KernelManager
from papermill.exceptions import PapermillExecutionError

from kit.cli import main
from kit.params import validate
from kit.report.run import notebook_path, run_investigation
from kit.simulate import load_catalogue

pytestmark = pytest.mark.slow
SCHEMA = json.loads((Path(__file__).parents[1] / "kit/report/findings.schema.json").read_text())
SCENARIOS = [s.name for s in load_catalogue()]


PARAMETERS = Path(__file__).resolve().parents[1] / "parameters"

@pytest.fixture(scope="module")
def kernel(sim) -> Iterator[KernelManager]:
    """One python3 kernel for the module, its environment pointing at the simulated account."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(sim.environ())
    km = KernelManager(kernel_name="python3")
    km.start_kernel(env=env, extra_arguments=["--HistoryManager.hist_file=:memory:"])
    yield km
    km.shutdown_kernel(now=True)


def _seeded(sim, name):
    return next(s for s in sim.seeded if s.name == name)


def _params(seeded, **extra):
    return validate({"instance_id": seeded.instance_id, "region": seeded.region, "scenario": seeded.name,
                     "interactive": False, **extra}, require_target=True)


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_reaches_its_expected_verdict(sim, kernel, tmp_path, name) -> None:
    seeded = _seeded(sim, name)
    scenario_file = yaml.safe_load((PARAMETERS / f"{name}.yaml").read_text())  # what its parameter file adds
    extra = {"org_role_arn": scenario_file["org_role_arn"]} if scenario_file.get("org_role_arn") else {}
    result = run_investigation(_params(seeded, **extra), tmp_path, km=kernel)
    assert result.exit_code == 0, result.error_value
    findings = json.loads((tmp_path / "findings.json").read_text())
    jsonschema.validate(findings, SCHEMA)
    for field, value in seeded.expected.items():
        if field in ("change", "last_success"):  # described, not literal: tests/test_change_scenarios.py checks them
            assert (findings["verdict"][field] is None) == (not value), field
            continue
        assert findings["verdict"][field] == value, field
    report = (tmp_path / "report.html").read_text()
    assert f'data-cause="{seeded.expected["cause"]}"' in report
    _assert_no_code(report)
    executed = nbformat.read(str(tmp_path / "investigation.ipynb"), as_version=4)
    assert all(c.get("outputs") is not None for c in executed.cells if c.cell_type == "code")
    assert not any(o.get("metadata", {}).get("kit_report") for c in executed.cells for o in c.get("outputs", [])), \
        "report.html's body is taken out of the saved notebook, not repeated there"
    secret = sim.environ()["AWS_SECRET_ACCESS_KEY"]
    for name in ("report.html", "findings.json", "investigation.ipynb"):
        assert secret not in (tmp_path / name).read_text(), f"credentials in {name}"


def _assert_no_code(report: str) -> None:
    assert "hl-ipython3" not in report and "Investigation.start" not in report and "show_verdict" not in report
    assert "<svg" in report and "kit-tl-list" in report  # the timeline picture, inline
    assert "<script" not in report  # nothing runs, nothing is fetched: the report works offline
    assert not re.search(r"""src=["']?(https?:)?//""", report)
    assert not re.search(r"""<link[^>]*href=["']?(https?:)?//""", report)
    links = re.findall(r'<a [^>]*href="(https?://[^"]+)"', report)  # only AWS console links, opened by the reader
    assert all(re.match(r"https://([a-z0-9-]+\.)?console\.(aws\.amazon\.com|amazonaws-us-gov\.com|amazonaws\.cn)/", u)
               for u in links), links
    assert "kit-role" in report  # the steps with what their status means


def test_report_escapes_hostile_aws_data(sim, kernel, tmp_path) -> None:
    hostile = [s for s in SCENARIOS if "hostile" in s or "tag" in s]
    if not hostile:
        pytest.fail("the catalogue has no hostile-tags scenario to check escaping against")
    seeded = _seeded(sim, hostile[0])
    run_investigation(_params(seeded), tmp_path, km=kernel)
    report = (tmp_path / "report.html").read_text()
    findings = (tmp_path / "findings.json").read_text()
    assert "<" in findings  # the scenario's AWS data does carry markup...
    # ...and none of it reaches the page as markup: the page has no <script> element at all.
    assert "<script" not in report.lower()
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+\s*=", report, flags=re.I)  # no event-handler attributes
    assert "&lt;script" in report or "&lt;img" in report


def test_redacted_run_leaves_no_account_id_anywhere(sim, kernel, tmp_path) -> None:
    seeded = _seeded(sim, "cross-account-key")  # two accounts: the launcher's and the key's
    key_account = seeded.expected["key_arn"].split(":")[4]
    assert key_account != seeded.account_id
    result = run_investigation(_params(seeded, redact=True), tmp_path, km=kernel)
    assert result.exit_code == 0, result.error_value
    for name in ("report.html", "findings.json", "investigation.ipynb"):
        text = (tmp_path / name).read_text()
        for account in (seeded.account_id, key_account):
            assert account not in text, name
        assert "XXXXXXXX" + seeded.account_id[-4:] in text, name
    findings = json.loads((tmp_path / "findings.json").read_text())
    jsonschema.validate(findings, SCHEMA)
    assert findings["account_id"] is None and findings["verdict"]["cause"] == seeded.expected["cause"]


def test_failing_cell_still_yields_a_report(sim, kernel, tmp_path) -> None:
    seeded = _seeded(sim, "seed")
    nb = nbformat.read(str(notebook_path()), as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "Investigation.start" in c.source) + 1
    nb.cells.insert(at, nbformat.v4.new_code_cell('raise RuntimeError("<script>boom</script> collector crashed")'))
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nb, str(broken))
    out = tmp_path / "out"
    result = run_investigation(_params(seeded), out, km=kernel, notebook=broken)
    assert result.exit_code == 1 and result.error_name == "RuntimeError"
    findings = json.loads((out / "findings.json").read_text())
    jsonschema.validate(findings, SCHEMA)
    assert findings["verdict"]["cause"] == "undetermined"
    assert any(g["error"] == "RuntimeError" and "collector crashed" in g["impact"] for g in findings["gaps"])
    report = (out / "report.html").read_text()
    assert "The investigation did not finish" in report and "&lt;script&gt;boom" in report
    assert "<script>boom" not in report


def test_unknown_notebook_parameter_stops_naming_it(sim, kernel, tmp_path) -> None:
    seeded = _seeded(sim, "seed")
    with pytest.raises(PapermillExecutionError) as caught:
        papermill.execute_notebook(str(notebook_path()), str(tmp_path / "x.ipynb"), km=kernel, progress_bar=False,
                                   parameters={"instance_id": seeded.instance_id, "region": seeded.region,
                                               "interactive": False, "windw_before_minutes": 5})
    assert caught.value.ename == "BadInput" and "windw_before_minutes" in caught.value.evalue
    # the next run in the same kernel starts from a clean namespace: the stray name is gone
    result = run_investigation(_params(seeded), tmp_path / "after", km=kernel)
    assert result.exit_code == 0, result.error_value


def test_broken_cli_parameter_exits_2_naming_it(tmp_path, capsys) -> None:
    code = main(["investigate", "--instance-id", "i-0123456789abcdef0", "--region", "eu-west-1",
                 "--window-before", "-3", "--out", str(tmp_path)])
    assert code == 2
    assert "window_before_minutes" in capsys.readouterr().err
    code = main(["investigate", "--instance-id", "not-an-instance", "--region", "eu-west-1", "--out", str(tmp_path)])
    assert code == 2 and "instance_id" in capsys.readouterr().err


def test_plain_papermill_with_a_scenario_file_starts_its_own_simulated_account(tmp_path, monkeypatch) -> None:
    import yaml

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    parameters = yaml.safe_load((Path(__file__).parents[1] / "parameters/seed.yaml").read_text())
    parameters["out_dir"] = str(tmp_path)
    papermill.execute_notebook(str(notebook_path()), str(tmp_path / "seed.ipynb"), parameters=parameters,
                               kernel_name="python3", progress_bar=False)
    findings = json.loads((tmp_path / "findings.json").read_text())
    assert findings["verdict"]["cause"] == "kms-grant-denied"
    assert findings["verdict"]["denied_by"] == "identity-policy"


def test_scenario_only_run_resolves_its_instance_in_the_kernel_even_when_a_cell_fails(tmp_path, monkeypatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    nb = nbformat.read(str(notebook_path()), as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "show_verdict" in c.source)
    nb.cells.insert(at, nbformat.v4.new_code_cell('raise RuntimeError("the diagnosis broke")'))
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nb, str(broken))
    result = run_investigation(validate({"scenario": "seed", "interactive": False}), tmp_path / "out", notebook=broken)
    assert result.exit_code == 1
    findings = json.loads((tmp_path / "out" / "findings.json").read_text())
    jsonschema.validate(findings, SCHEMA)
    assert findings["instance_id"] != "i-00000000" and findings["region"] == "eu-west-1"
    assert findings["verdict"]["cause"] == "undetermined"


def test_kit_demo_writes_the_report_and_prints_the_verdict(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    code = main(["demo", "--out", str(tmp_path / "demo")])
    printed = capsys.readouterr().out
    assert code == 0
    assert "kms-grant-denied" in printed and str(tmp_path / "demo" / "report.html") in printed
    for name in ("report.html", "findings.json", "investigation.ipynb"):
        assert (tmp_path / "demo" / name).is_file()


def test_kit_investigate_from_a_bundle_writes_the_report(sim, sim_env, tmp_path, capsys) -> None:
    seeded = _seeded(sim, "key-disabled")
    bundle = tmp_path / "bundle"
    assert main(["collect", "--instance-id", seeded.instance_id, "--region", seeded.region, "--out", str(bundle)]) == 0
    capsys.readouterr()
    out = tmp_path / "report"
    code = main(["investigate", "--instance-id", seeded.instance_id, "--region", seeded.region,
                 "--source", f"bundle:{bundle}", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert seeded.expected["cause"] in printed and str(out / "report.html") in printed
    findings = json.loads((out / "findings.json").read_text())
    assert findings["verdict"]["cause"] == seeded.expected["cause"]
    assert "bundle:" in (out / "report.html").read_text()

    # a tampered bundle is bad input: the notebook stops on it, the report says so, the exit code is 2
    described = bundle / "ec2.describe-instances.json"
    described.write_text(described.read_text().replace("stopped", "running"))
    code = main(["investigate", "--instance-id", seeded.instance_id, "--region", seeded.region,
                 "--source", f"bundle:{bundle}", "--out", str(out)])
    assert code == 2
    assert "BadInput" in capsys.readouterr().err
    assert "The investigation did not finish" in (out / "report.html").read_text()
    assert json.loads((out / "findings.json").read_text())["verdict"]["cause"] == "undetermined"


def test_kit_demo_with_an_unknown_scenario_exits_2_naming_it(tmp_path, capsys) -> None:
    assert main(["demo", "--scenario", "no-such-scenario", "--out", str(tmp_path)]) == 2
    assert "no-such-scenario" in capsys.readouterr().err


def test_a_kernel_that_cannot_start_still_yields_a_report(tmp_path) -> None:
    nb = nbformat.read(str(notebook_path()), as_version=4)
    nb.metadata.kernelspec.name = "no-such-kernel"
    missing = tmp_path / "nokernel.ipynb"
    nbformat.write(nb, str(missing))
    params = validate({"instance_id": "i-0123456789abcdef0", "region": "eu-west-1", "interactive": False})
    result = run_investigation(params, tmp_path / "out", notebook=missing, kernel_name="no-such-kernel")
    assert result.exit_code == 1 and result.error_name
    for name in ("report.html", "findings.json", "investigation.ipynb"):
        assert (tmp_path / "out" / name).is_file()
    assert json.loads((tmp_path / "out" / "findings.json").read_text())["verdict"]["cause"] == "undetermined"
