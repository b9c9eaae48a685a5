"""The notebook's first try, against the simulated account over real HTTP: only AWS_ENDPOINT_URL set, a Region
control, missing credentials said in words, the clickable table, window presets with UTC bounds, the verdict
beside the picker, evidence reused when the inputs repeat, the "Dig deeper" examples, and the what-if editor
loading the proposed fix with its diff and marking an over-broad change in amber.
"""

from __future__ import annotations

import json
import os

import pytest

from kit.notebook import dig_deeper
from kit.notebook.account import explain_listing_error, is_loopback
from kit.notebook.controls import InvestigationControls
from kit.notebook.investigation import Investigation
from kit.notebook.what_if import WhatIfEditor
from kit.params import validate


AWSCLI_DATA = "AWS_DATA_PATH"  # awscli sets it once, when imported: an environment reset must keep it

@pytest.fixture
def endpoint_only(sim, monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:
    """The environment of a shell where only `export AWS_ENDPOINT_URL=...` was pasted (no credentials, no Region)."""
    for name in [n for n in os.environ if n.startswith("AWS_") and n != AWSCLI_DATA]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", sim.endpoint_url)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    return sim.endpoint_url


def _seed(sim):
    return sim.scenario("seed")


def test_only_the_endpoint_set_lists_and_investigates_the_simulated_account(sim, endpoint_only) -> None:
    seed = _seed(sim)
    investigation = Investigation.start(validate({"interactive": True}))
    assert investigation.params.region == seed.region
    assert "simulated account" in investigation.account_setup.describe()
    controls = InvestigationControls(investigation)
    assert controls.listing_problem == ""
    assert "fake credentials" in controls.status.value and seed.region in controls.status.value
    assert seed.instance_id in controls.table_buttons
    assert 'data-cause' not in controls.summary.html and "No instance investigated yet" in controls.summary.html
    controls.table_buttons[seed.instance_id][3].click()  # a click anywhere on the row picks it
    assert investigation.params.instance_id == seed.instance_id
    assert f'data-cause="{seed.expected["cause"]}"' in controls.summary.html
    assert controls.table_buttons[seed.instance_id][0].style.button_color != \
        next(cells for i, cells in controls.table_buttons.items() if i != seed.instance_id)[0].style.button_color


def test_missing_credentials_are_said_in_words_not_as_an_exception_name(monkeypatch, tmp_path) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_") and n != AWSCLI_DATA]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://192.0.2.10:9")  # not this machine: no fake credentials
    investigation = Investigation.start(validate({"interactive": True}))
    controls = InvestigationControls(investigation)
    assert controls.listing_problem.startswith("No AWS credentials were found")
    shown = "".join(child.value for child in controls.instance_table.children)
    assert "kit simulate" in shown and "NoCredentialsError" not in shown
    assert not controls.table_buttons


def test_listing_errors_in_words() -> None:
    from botocore.exceptions import ClientError, EndpointConnectionError

    denied = ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "DescribeInstances")
    assert "ec2:DescribeInstances" in explain_listing_error(denied, "eu-west-1")
    gone = EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert "Nothing answered" in explain_listing_error(gone, "eu-west-1")
    assert is_loopback("http://127.0.0.1:5000") and is_loopback("http://localhost:1")
    assert not is_loopback("https://ec2.eu-west-1.amazonaws.com") and not is_loopback("http://10.0.0.1")


def test_region_control_lists_that_regions_failed_instances(sim, sim_env) -> None:
    elsewhere = [s for s in sim.seeded if s.region != "eu-west-1"]
    assert elsewhere, "the catalogue seeds an incident outside eu-west-1"
    investigation = Investigation.start(validate({"interactive": True, "region": "eu-west-1"}))
    controls = InvestigationControls(investigation)
    controls.region.value = elsewhere[0].region
    assert investigation.params.region == elsewhere[0].region
    assert set(controls.table_buttons) == {s.instance_id for s in sim.seeded if s.region == elsewhere[0].region}
    controls.pick(elsewhere[0].instance_id)
    assert investigation.findings.verdict.cause == elsewhere[0].expected["cause"]


def test_window_presets_show_utc_bounds_and_reuse_evidence(sim, sim_env) -> None:
    seed = _seed(sim)
    investigation = Investigation.start(validate({"instance_id": seed.instance_id, "region": seed.region,
                                                  "interactive": True}))
    controls = InvestigationControls(investigation)
    first = investigation.evidence
    hour = next(b for b in controls.presets if b.description == "±1 h")
    hour.click()
    assert (investigation.params.window_before_minutes, investigation.params.window_after_minutes) == (60, 60)
    assert hour.button_style == "info"
    window = investigation.evidence.parameters["cloudtrail_window"]
    assert window["start"][:10] in controls.window_bounds.value and "UTC" in controls.window_bounds.value
    assert investigation.evidence is not first
    controls.window_after.value = 30  # back to the first window: the same inputs, the evidence already read
    assert investigation.evidence is first


def test_dig_deeper_examples_run_on_the_real_frames(sim, sim_env) -> None:
    seed = _seed(sim)
    investigation = Investigation.start(validate({"instance_id": seed.instance_id, "region": seed.region,
                                                  "interactive": True}))
    refused = dig_deeper.run_example(dig_deeper.EXAMPLES[0][1], investigation.frames)
    assert "CreateGrant" in set(refused["event_name"])
    for _question, expression in dig_deeper.EXAMPLES:
        assert len(dig_deeper.run_example(expression, investigation.frames).columns) >= 1
    investigation.show_dig_deeper()
    shown = investigation.sections.named("dig-deeper").html
    assert "investigation.frames" in shown and "CreateGrant" in shown


def test_what_if_loads_the_proposed_fix_with_its_diff_and_marks_over_broad_in_amber(sim, sim_env) -> None:
    seed = _seed(sim)
    investigation = Investigation.start(validate({"instance_id": seed.instance_id, "region": seed.region,
                                                  "interactive": True}))
    editor = WhatIfEditor(investigation)
    assert editor.policy_choice.value.startswith("fix:")  # the proposed fix first
    assert "proposed fix" in editor.policy_choice.label
    document = json.loads(editor.editor.value)
    assert document == investigation.findings.remediation[0].document
    assert "Diff against the current document" in editor.result.value and "kit-add" in editor.result.value
    editor.button.click()
    assert editor.last.allowed and editor.last.broadened == []
    assert "would be ALLOWED" in editor.result.value and 'data-over-broad' not in editor.result.value
    document["Statement"][0]["Resource"] = "*"  # over-broad: every key
    editor.editor.value = json.dumps(document)
    editor.button.click()
    assert editor.last.allowed and editor.last.broadened
    assert 'data-over-broad="true"' in editor.result.value and "kit-amber" in editor.result.value


def test_what_if_allowed_only_by_a_stand_in_reads_unknown(sim, sim_env) -> None:
    """The key policy of another account's key cannot be read: an allow that rests on its stand-in is unknown."""
    foreign = sim.scenario("cross-account-key")
    investigation = Investigation.start(validate({"instance_id": foreign.instance_id, "region": foreign.region,
                                                  "interactive": True}))
    editor = WhatIfEditor(investigation)
    labels = dict((value, label) for label, value in editor.policy_choice.options)
    assert "stand-in" in labels["key-policy"]
    editor.policy_choice.value = next(v for v in labels if v.startswith("identity:"))
    editor.button.click()
    assert "is UNKNOWN" in editor.result.value and "would be ALLOWED" not in editor.result.value
    assert "key-policy could not be read" in editor.result.value
