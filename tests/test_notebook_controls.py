"""Widget behaviour against the simulated account: picking, windows, volume/key choice, what-if editing.

The widgets run without a browser: tests set `.value` and `.click()` as a person would, and read the
HTML the live sections now show.
"""

from __future__ import annotations

import json

import pytest

from kit.params import validate
from kit.notebook.controls import InvestigationControls
from kit.notebook.investigation import Investigation
from kit.notebook.what_if import WhatIfEditor


def _seed(sim):
    return next(s for s in sim.seeded if s.name == "seed")


@pytest.fixture
def picked(sim, sim_env) -> Investigation:
    """An interactive investigation of the seed incident with its sections and controls on screen."""
    seed = _seed(sim)
    investigation = Investigation.start(validate({"instance_id": seed.instance_id, "region": seed.region,
                                                  "interactive": True}))
    investigation.show_verdict()
    investigation.show_manual_step(2)
    investigation.show_gaps()
    return investigation


def test_instance_table_lists_failed_launches_and_picking_one_investigates_it(sim, sim_env) -> None:
    seed = _seed(sim)
    investigation = Investigation.start(validate({"interactive": True}))  # Region: AWS_REGION (sim_env)
    assert investigation.params.region == seed.region
    investigation.show_verdict()
    verdict = investigation.sections.named("verdict")
    assert investigation.findings is None and "Pick an instance" in verdict.html
    controls = InvestigationControls(investigation)
    assert seed.instance_id in set(controls.failed["instance_id"])
    assert seed.instance_id in controls.table_buttons
    controls.instance_picker.value = seed.instance_id
    assert investigation.params.instance_id == seed.instance_id
    assert f'data-cause="{seed.expected["cause"]}"' in verdict.html
    assert f'data-cause="{seed.expected["cause"]}"' in controls.summary.html  # beside the picker too
    assert "Investigated " + seed.instance_id in controls.status.value


def test_window_change_recollects_and_rerenders(picked: Investigation) -> None:
    controls = InvestigationControls(picked)
    before = picked.evidence
    section = picked.sections.named("manual-step-2")
    renders = section.renders
    controls.window_before.value = 180
    assert picked.params.window_before_minutes == 180
    assert picked.evidence is not before
    assert section.renders > renders
    assert "CreateGrant" in section.html


def test_typed_bad_instance_id_is_reported_not_raised(picked: Investigation) -> None:
    controls = InvestigationControls(picked)
    controls.instance_id.value = "i-<script>"
    controls.investigate_button.click()
    assert "instance_id" in controls.status.value and "<script>" not in controls.status.value
    assert picked.findings is not None  # the previous analysis stays on screen
    controls.instance_id.value = "i-0000000000000dead"  # well formed, but no such instance
    controls.investigate_button.click()
    # not a crash: an investigation whose evidence says the instance is not there, and why
    assert picked.findings.instance_id == "i-0000000000000dead"
    assert picked.findings.verdict.cause == "undetermined"
    assert 'data-cause="undetermined"' in picked.sections.named("verdict").html
    assert any("describeinstances" in g.call.lower().replace("-", "") for g in picked.findings.gaps)


def test_choosing_a_volume_then_its_key_shows_their_details(sim, picked: Investigation) -> None:
    seed = _seed(sim)
    key_arn = seed.expected["key_arn"]
    controls = InvestigationControls(picked)
    volume_choice = f"volume:{seed.volume_ids[0]}"
    assert volume_choice in [value for _, value in controls.resource_picker.options]
    controls.resource_picker.value = volume_choice
    assert seed.volume_ids[0] in controls.resource_view.html and key_arn in controls.resource_view.html
    controls.resource_picker.value = f"key:{key_arn}"
    assert "Key policy statements" in controls.resource_view.html
    assert "CUSTOMER" in controls.resource_view.html


def test_what_if_editor_allows_the_request_with_the_seed_fix(sim, picked: Investigation) -> None:
    seed = _seed(sim)
    editor = WhatIfEditor(picked)
    assert picked.findings.request is not None and picked.findings.request.action.lower() == "kms:creategrant"
    identity = [value for _, value in editor.policy_choice.options if value.startswith("identity:")]
    editor.policy_choice.value = identity[0]
    document = json.loads(editor.editor.value)
    editor.button.click()
    assert editor.last is not None and not editor.last.allowed  # unchanged policy: still denied
    document["Statement"].append({"Effect": "Allow", "Action": "kms:CreateGrant", "Resource": seed.expected["key_arn"],
                                  "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}}})
    editor.editor.value = json.dumps(document)
    editor.button.click()
    assert editor.last.allowed
    assert "would be ALLOWED" in editor.result.value


def test_what_if_editor_reports_bad_documents(picked: Investigation) -> None:
    editor = WhatIfEditor(picked)
    editor.editor.value = "{not json"
    editor.button.click()
    assert "not valid JSON" in editor.result.value
    editor.editor.value = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Perhaps", "Action": "kms:*",
                                                                             "Resource": "*"}]})
    editor.button.click()
    assert "Cannot evaluate" in editor.result.value and "Statement[0]" in editor.result.value


def test_redacted_controls_mask_accounts_and_keep_the_editor_off(sim, sim_env) -> None:
    seed = _seed(sim)
    investigation = Investigation.start(validate({"instance_id": seed.instance_id, "region": seed.region,
                                                  "interactive": True, "redact": True}))
    investigation.show_verdict()
    investigation.show_timeline()
    controls = InvestigationControls(investigation)
    controls.resource_picker.value = f"key:{seed.expected['key_arn']}"
    shown = [investigation.sections.named("verdict").html, controls.resource_view.html,
             controls.summary.html, *[cell.description for row in controls.table_buttons.values() for cell in row],
             *[label for label, _ in controls.resource_picker.options]]
    assert all(seed.account_id not in text for text in shown)
    assert "XXXXXXXX" + seed.account_id[-4:] in investigation.sections.named("verdict").html
    investigation.show_what_if()
    assert investigation.what_if is None
