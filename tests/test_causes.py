"""The cause table (kit/causes.yaml) is the one home of the cause ids and denied_by words: it agrees with the
findings schema, the verdict's summary fields, the scenario catalogue and the state reasons, and a cause
added in one place only fails here."""

from __future__ import annotations

import ast
import copy
import json
import string
from importlib import resources
from pathlib import Path

import pytest
import yaml

from kit import causes as cause_table
from kit.causes import cause, cause_ids, causes, causes_of_kind, denied_by, denied_by_words, parse_table, schema_disagreements
from kit.diagnose.findings import Verdict
from kit.diagnose.lookalikes import _JUDGES
from kit.diagnose.metadata import load_data
from kit.diagnose.state_reason import read_state_reason, reason_table
from kit.diagnose.verdict import SUMMARY_FIELDS
from kit.errors import BadInput
from kit.views.html import verdict_banner
from kit.simulate.catalogue import parse_scenario

KIT = Path(cause_table.__file__).parent
KIT_SCHEMA = KIT / "report" / "findings.schema.json"
SHARED_SCHEMA = Path("/work/shared/docs/findings.schema.json")
SCHEMAS = [KIT_SCHEMA] + ([SHARED_SCHEMA] if SHARED_SCHEMA.exists() else [])


def table_document() -> dict:
    return yaml.safe_load(resources.files("kit").joinpath("causes.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: str(p))
def test_table_agrees_with_the_findings_schema_enums(path: Path):
    schema = json.loads(path.read_text(encoding="utf-8"))
    verdict = schema["properties"]["verdict"]["properties"]
    assert schema_disagreements(schema) == []
    assert set(cause_ids()) == set(verdict["cause"]["enum"])
    assert set(denied_by_words()) | {None} == set(verdict["denied_by"]["enum"])


def test_the_kit_copy_of_the_schema_is_there():
    assert KIT_SCHEMA.exists(), "kit/report/findings.schema.json is the packaged copy of the public contract"


def test_a_cause_in_the_table_only_fails_the_agreement_check():
    schema = json.loads(KIT_SCHEMA.read_text(encoding="utf-8"))
    enum = schema["properties"]["verdict"]["properties"]["cause"]["enum"]
    missing = copy.deepcopy(schema)
    missing["properties"]["verdict"]["properties"]["cause"]["enum"] = [c for c in enum if c != "snapshot-not-found"]
    assert schema_disagreements(missing) == [
        "cause 'snapshot-not-found' is in kit/causes.yaml but not in the schema"]
    extra = copy.deepcopy(schema)
    extra["properties"]["verdict"]["properties"]["cause"]["enum"] = enum + ["kms-key-haunted"]
    extra["properties"]["verdict"]["properties"]["denied_by"]["enum"].append("resource-control-policy")
    assert schema_disagreements(extra) == [
        "cause 'kms-key-haunted' is in the schema but not in kit/causes.yaml",
        "denied_by 'resource-control-policy' is in the schema but not in kit/causes.yaml"]


def test_a_cause_added_to_the_table_without_its_facts_is_refused():
    document = table_document()
    document["causes"]["kms-key-haunted"] = {"kind": "kms", "title": "Haunted key", "tone": "bad"}
    with pytest.raises(BadInput, match=r"causes.kms-key-haunted.summary"):
        parse_table(document)
    document["causes"]["kms-key-haunted"].update(summary="The key {key} is haunted.", kind="spooky")
    with pytest.raises(BadInput, match=r"causes.kms-key-haunted.kind"):
        parse_table(document)
    document["causes"]["kms-key-haunted"].update(kind="kms", denied_by=["ghost-policy"])
    with pytest.raises(BadInput, match=r"causes.kms-key-haunted.denied_by"):
        parse_table(document)


def test_a_scenario_naming_a_cause_outside_the_table_is_refused():
    spec = yaml.safe_load(resources.files("kit.simulate").joinpath("scenarios", "key-disabled.yaml").read_text())
    assert parse_scenario(spec, "key-disabled.yaml").cause == "kms-key-disabled"
    spec["expected"]["cause"] = "kms-key-haunted"
    with pytest.raises(BadInput, match="expected.cause"):
        parse_scenario(spec, "key-disabled.yaml")


def test_every_scenario_names_a_cause_of_the_table_and_every_cause_has_one():
    folder = resources.files("kit.simulate") / "scenarios"
    named = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".yaml"):
            expected = yaml.safe_load(entry.read_text(encoding="utf-8"))["expected"]
            assert expected["cause"] in cause_ids(), entry.name
            allowed = cause(expected["cause"]).denied_by
            assert (expected.get("denied_by") in allowed) if allowed else expected.get("denied_by") is None, entry.name
            named[entry.name] = expected["cause"]
    assert set(named.values()) == set(cause_ids())


def test_every_summary_template_uses_only_fields_the_verdict_fills():
    values = {name: f"<{name}>" for name in SUMMARY_FIELDS}
    for entry in causes().values():
        fields = {name for _, name, _, _ in string.Formatter().parse(entry.summary) if name is not None}
        assert fields <= set(SUMMARY_FIELDS), (entry.id, fields - set(SUMMARY_FIELDS))
        summary = " ".join(entry.summary.format(**values).split())
        assert summary and "{" not in summary and "}" not in summary, entry.id
        denied = entry.denied_by[0] if entry.denied_by else None
        verdict = Verdict(entry.id, denied, None, None, "possible", summary)
        assert verdict.to_dict()["cause"] == entry.id


def test_findings_accept_denied_by_only_with_the_causes_the_table_gives_it_to():
    for entry in causes().values():
        for word in denied_by_words():
            if word in entry.denied_by:
                Verdict(entry.id, word, None, None, "possible", "s")
            else:
                with pytest.raises(ValueError, match="denied_by"):
                    Verdict(entry.id, word, None, None, "possible", "s")
        if entry.denied_by:
            with pytest.raises(ValueError, match="denied_by"):
                Verdict(entry.id, None, None, None, "possible", "s")
    with pytest.raises(ValueError, match="cause"):
        Verdict("kms-key-haunted", None, None, None, "possible", "s")


def test_every_state_reason_belongs_to_one_cause_or_to_the_kms_kind():
    document = table_document()
    owners: dict[str, list[str]] = {}
    for name, kind in document["kinds"].items():
        for code in kind.get("state_reasons") or {}:
            owners.setdefault(code, []).append(f"kind {name}")
    for cause_id, entry in document["causes"].items():
        for code in entry.get("state_reasons") or {}:
            owners.setdefault(code, []).append(cause_id)
    assert owners and all(len(o) == 1 for o in owners.values()), {c: o for c, o in owners.items() if len(o) > 1}
    assert set(owners) == set(reason_table())
    for code, (owner,) in owners.items():
        read = read_state_reason("stopped", code, f"{code}: what EC2 said", None)
        if owner == "kind kms":
            assert (read.kind, read.cause) == ("kms-candidate", None), code
        elif cause(owner).kind == "lookalike":
            assert (read.kind, read.cause, read.lookalike) == ("cause", owner, owner), code
        else:
            assert cause(owner).kind == "not-a-failure" and (read.kind, read.cause) == (owner, None), code
            assert read.lookalike in load_data("lookalikes.yaml")["lookalikes"], code


def test_a_state_reason_listed_under_two_causes_is_refused():
    document = table_document()
    document["causes"]["snapshot-not-found"]["state_reasons"]["Client.VolumeLimitExceeded"] = {"meaning": "twice"}
    with pytest.raises(BadInput, match="listed once"):
        parse_table(document)


def test_lookalike_causes_are_judged_from_the_table_and_listed_nowhere_else():
    lookalike_causes = set(causes_of_kind("lookalike"))
    assert lookalike_causes == {c.id for c in causes().values() if c.lookalike is not None}
    others = set(load_data("lookalikes.yaml")["lookalikes"])
    assert not others & set(cause_ids())
    assert set(_JUDGES) == others
    for cause_id in lookalike_causes:
        assert cause(cause_id).state_reason_codes and cause(cause_id).lookalike.autoscaling, cause_id


def test_the_banner_takes_title_and_tone_from_the_table():
    for entry in causes().values():
        denied = entry.denied_by[0] if entry.denied_by else None
        out = verdict_banner({"instance_id": "i-0123456789abcdef0", "region": "eu-west-1",
                              "verdict": {"cause": entry.id, "denied_by": denied, "summary": "s",
                                          "confidence": "possible"}})
        assert f'data-cause="{entry.id}"' in out and f"kit-tone-{entry.tone}" in out, entry.id
        assert entry.title.replace("'", "&#x27;") in out, entry.id
        if denied:
            assert denied_by_words()[denied].replace("'", "&#x27;") in out


def test_unknown_ids_are_bad_input():
    with pytest.raises(BadInput, match="kms-key-haunted"):
        cause("kms-key-haunted")
    with pytest.raises(BadInput, match="spooky"):
        causes_of_kind("spooky")
    assert causes_of_kind("kms")[0] == "kms-grant-denied" and "undetermined" in causes_of_kind("undetermined")


def _cause_ids_in(value: object) -> int:
    return sum(1 for v in value if isinstance(v, str) and v in cause_ids())


def _enumerations(path: Path) -> list[str]:
    """Literal collections in a file of kit/ that hold two or more cause ids."""
    found: list[str] = []
    if path.suffix == ".py":
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            items: list[object] = []
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
                items = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            elif isinstance(node, ast.Dict):
                items = [e.value for e in [*node.keys, *node.values] if isinstance(e, ast.Constant)]
            if _cause_ids_in(items) >= 2:
                found.append(f"{path}:{node.lineno}")
    else:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        stack = [loaded]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                if _cause_ids_in(value) + _cause_ids_in(value.values()) >= 2:
                    found.append(str(path))
                stack += list(value.values())
            elif isinstance(value, list):
                if _cause_ids_in(value) >= 2:
                    found.append(str(path))
                stack += value
    return found


def test_no_other_file_of_the_kit_lists_cause_ids():
    exempt = {KIT / "causes.yaml", KIT_SCHEMA}
    files = [p for ext in ("*.py", "*.yaml", "*.json") for p in KIT.rglob(ext)
             if p not in exempt and "scenarios" not in p.parts]
    assert len(files) > 50
    found = [hit for path in files for hit in _enumerations(path)]
    assert found == []


def test_the_enumeration_check_finds_a_copied_list(tmp_path: Path):
    copied = tmp_path / "copied.py"
    copied.write_text('QUOTA = ("volume-limit-exceeded", "insufficient-capacity")\n', encoding="utf-8")
    assert _enumerations(copied) == [f"{copied}:1"]
    data = tmp_path / "copied.yaml"
    data.write_text("kms-key-disabled: {title: x}\nkms-key-unusable: {title: y}\n", encoding="utf-8")
    assert _enumerations(data) == [str(data)]


def test_the_grant_denied_summary_names_the_change_at_the_refusing_layer():
    """The verdict's advice follows denied_by: an Allow is no remedy for an explicit Deny, an SCP or a boundary."""
    from kit.diagnose.verdict import _verdict

    summaries = {word: _verdict("kms-grant-denied", word, "arn:aws:iam::123456789012:user/u", "k", "confirmed",
                                remedy=entry.remedy).summary for word, entry in denied_by().items()}
    assert len(set(summaries.values())) == len(summaries)
    assert "Allow kms:CreateGrant" in summaries["identity-policy"]
    for word in ("explicit-deny", "scp", "permissions-boundary", "key-policy", "session-policy"):
        assert denied_by()["identity-policy"].remedy not in summaries[word], word
    assert "no Allow can override it" in summaries["explicit-deny"]
    assert "service control policy" in summaries["scp"] and "permissions boundary" in summaries["permissions-boundary"]
