"""report.html's answer-first body (kit.views.report_page) and findings.json's ticket fields, for every scenario of
the catalogue, over the real pipeline: simulated account -> live collection -> frames -> diagnose -> views."""

from __future__ import annotations

import html
import json
import os
import re
from datetime import datetime, timezone
from functools import lru_cache
from html.parser import HTMLParser
from importlib import resources

import pytest
from jsonschema import Draft202012Validator

from kit import version
from kit.collect.live import collect_live
from kit.diagnose import diagnose
from kit.diagnose.ticket import run_fields
from kit.frames import build_frames
from kit.simulate.catalogue import load_catalogue
from kit.views import console
from kit.views.report_page import WHAT_CHANGED_SLOT, report_page

AWSCLI_DATA = "AWS_DATA_PATH"  # awscli sets it once, when imported: an environment reset must keep it

SCENARIOS = [s.name for s in load_catalogue()]
# Words of the kit's own making that mean nothing to a reader of a report.
INTERNAL_WORDS = re.compile(r"the article|the seed\b|seed's|seed_step|seed article|contracts\.md|domain\.md", re.I)


@lru_cache(maxsize=1)
def validator() -> Draft202012Validator:
    return Draft202012Validator(json.loads(resources.files("kit.report").joinpath("findings.schema.json").read_text()))


@pytest.fixture(scope="module")
def reports(sim):
    """Per scenario: (findings, findings.json as written, report body)."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_") and k != AWSCLI_DATA}
    os.environ.update(sim.environ())
    try:
        out = {}
        for name in SCENARIOS:
            seeded = sim.scenario(name)
            evidence = collect_live(seeded.instance_id, seeded.region)
            frames = build_frames(evidence)
            findings = diagnose(evidence, frames)
            shown = {**findings.to_dict(), **run_fields(evidence, version())}
            out[name] = (findings, shown, report_page(findings, shown, frames))
        return out
    finally:
        for key in [k for k in os.environ if k.startswith("AWS_") and k != AWSCLI_DATA]:
            del os.environ[key]
        os.environ.update(saved)


class _Tags(HTMLParser):
    """Every start tag and attribute the page really has (what a browser would build)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


@pytest.mark.parametrize("name", SCENARIOS)
def test_findings_are_schema_valid_with_ticket_fields(reports, name) -> None:
    findings, shown, _ = reports[name]
    errors = sorted(validator().iter_errors(json.loads(json.dumps(shown, default=str))), key=str)
    assert not errors, [e.message for e in errors]
    assert shown["kit_version"] == version() and shown["evidence_source"]["source"] == "live"
    assert datetime.fromisoformat(shown["investigated_at"].replace("Z", "+00:00")) <= datetime.now(timezone.utc)
    assert all(step.get("role") for step in shown["steps"])
    assert sum(step["role"] == "cause" for step in shown["steps"]) <= 1
    assert all("seed_step" not in step for step in shown["steps"])


def test_ticket_fields_name_the_launch_time_and_the_refused_call(sim, reports) -> None:
    findings, shown, _ = reports["seed"]
    seeded = sim.scenario("seed")
    incident = datetime.fromisoformat(shown["incident_time"].replace("Z", "+00:00"))
    assert abs((incident - seeded.launched_at.astimezone(timezone.utc)).total_seconds()) < 1
    timeline = findings.timeline.set_index("event_id")
    deciding = timeline.loc[shown["cloudtrail_event_ids"][0]]
    assert deciding["event_name"] == "CreateGrant" and deciding["error_code"] == "AccessDenied"
    assert "StartInstances" in set(timeline.loc[shown["cloudtrail_event_ids"][1:], "event_name"])


def test_the_stop_is_placed_when_it_happened_not_when_the_evidence_was_collected(reports) -> None:
    findings, shown, _ = reports["seed"]
    stop = findings.timeline[findings.timeline["event_name"] == "StateTransition"]
    kms = findings.timeline[findings.timeline["kind"] == "kms"]["time"]
    assert len(stop) == 1 and bool(stop["approximate"].iloc[0])
    assert kms.max() < stop["time"].iloc[0] <= kms.max() + __import__("pandas").Timedelta(seconds=2)
    user_stop = reports["user-stop"][0].timeline
    exact = user_stop[user_stop["event_name"] == "StateTransition"]
    assert len(exact) == 1 and not bool(exact["approximate"].iloc[0])
    assert "Collected" not in set(findings.timeline["event_name"])


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_internal_words_in_any_report(reports, name) -> None:
    _, shown, page = reports[name]
    assert not INTERNAL_WORDS.findall(page), INTERNAL_WORDS.findall(page)
    assert not INTERNAL_WORDS.findall(json.dumps(shown)), INTERNAL_WORDS.findall(json.dumps(shown))


def test_the_answer_comes_first_and_each_block_once(reports) -> None:
    findings, shown, page = reports["seed"]
    order = [page.index(marker) for marker in ('data-cause="kms-grant-denied"', 'data-remediation="first"',
                                               WHAT_CHANGED_SLOT, 'id="proof"', 'id="changes"', 'id="appendix"')]
    assert order == sorted(order)
    assert page.count('id="others"') == 1 and page.count("volume-limit-exceeded") == 1  # lookalikes once
    reasoning = findings.decision.explanation[0]
    assert page.count(html.escape(reasoning)) == 1  # the evaluator's reasoning once
    assert "Usage" not in page and "papermill" not in page and "run all cells" not in page.lower()
    assert 'class="kit-role kit-role-cause">the cause</span> EC2&#x27;s CreateGrant, evaluated' in page
    assert "a symptom" in page and "Statement[" in page and "kit-decisive" in page


def test_capacity_has_its_own_tone_and_no_kms_symptoms(reports) -> None:
    _, shown, page = reports["insufficient-capacity"]
    assert "kit-banner kit-tone-not-kms" in page and "kit-banner kit-tone-bad" not in page
    roles = {s["id"]: s["role"] for s in shown["steps"]}
    assert roles["encrypted-volumes"] == "fine" and roles["lookalikes"] == "cause"


def test_names_are_short_with_the_full_arn_on_hover(reports) -> None:
    _, shown, page = reports["scp-deny"]
    key = shown["verdict"]["key_arn"]
    assert f'<abbr title="{key}">alias/' in page
    principal = shown["verdict"]["principal_arn"]
    assert f'<abbr title="{principal}">' in page
    assert re.search(r"SCP [\w-]+ \(p-[0-9a-z]+, attached to ", page), "the SCP by its name"
    assert "organizations/v2/home/policies/service-control-policy/p-" in page


def test_hostile_strings_stay_text(reports) -> None:
    findings, shown, page = reports["hostile-tags"]
    parser = _Tags()
    parser.feed(page)
    tags = {tag for tag, _ in parser.tags}
    assert not tags & {"script", "img", "iframe", "object", "embed"}, tags
    svg_tags = [attrs for tag, attrs in parser.tags if tag == "svg"]
    assert all(not (name or "").startswith("on") for attrs in svg_tags for name, _ in attrs)
    assert all(not (name or "").startswith("on") for _, attrs in parser.tags for name, _ in attrs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the Name tag, shown as text in the heading
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the error message


def test_console_links_have_the_documented_forms() -> None:
    assert console.instance_url("i-0123456789abcdef0", "eu-west-1") == (
        "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#InstanceDetails:instanceId=i-0123456789abcdef0")
    key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert console.key_url(key) == ("https://eu-west-1.console.aws.amazon.com/kms/home?region=eu-west-1"
                                    "#/kms/keys/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert console.key_url(key, aws_managed=True).endswith("#/kms/defaultKeys/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert console.principal_url("arn:aws:iam::123456789012:user/ops/alice") == (
        "https://console.aws.amazon.com/iam/home#/users/details/alice")
    assert console.principal_url("arn:aws:sts::123456789012:assumed-role/Deployer/s1") == (
        "https://console.aws.amazon.com/iam/home#/roles/details/Deployer")
    assert console.scp_url("p-abcd1234") == (
        "https://console.aws.amazon.com/organizations/v2/home/policies/service-control-policy/p-abcd1234")
    event = "50b94c1e-a780-4329-a0d6-6f24604cdc48"
    assert console.event_url(event, "us-east-1") == (
        f"https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/{event}")
    gov = "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert console.key_url(gov).startswith("https://us-gov-west-1.console.amazonaws-us-gov.com/kms/")
    assert console.instance_url("i-0123456789abcdef0", "cn-north-1").startswith(
        "https://cn-north-1.console.amazonaws.cn/ec2/")
    assert console.principal_url("arn:aws-cn:iam::123456789012:role/r").startswith("https://console.amazonaws.cn/iam/")
    assert console.instance_url("<script>", "eu-west-1") is None and console.event_url("x\"y", "eu-west-1") is None


def test_readme_and_help_point_to_documents_in_the_repository() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"\b(docs/[\w./-]+\.md)\b", readme))
    assert "docs/contracts.md" in named
    assert all((root / path).is_file() for path in named), sorted(p for p in named if not (root / p).is_file())
    assert "../shared/docs" not in readme and not re.search(r"(?<!docs/)\bcontracts\.md section", readme)
    shown = subprocess.run([sys.executable, "-m", "kit", "--help"], capture_output=True, text=True, check=True).stdout
    shown += subprocess.run([sys.executable, "-m", "kit", "policy", "check", "--help"], capture_output=True,
                            text=True, check=True).stdout
    for path in set(re.findall(r"\b(docs/[\w./-]+\.md)\b", shown)) | {"docs/contracts.md"}:
        assert (root / path).is_file(), path
    assert not re.search(r"(?<!docs/)\bcontracts\.md", shown), shown
    contracts = (root / "docs/contracts.md").read_text(encoding="utf-8")
    assert "## 3. `findings.json`" in contracts and "contracts-additions.md" in contracts
