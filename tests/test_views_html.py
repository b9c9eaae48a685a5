"""Report blocks escape everything that came from AWS."""

from __future__ import annotations

import pandas as pd

from kit.views import html as blocks
from kit.views.timeline import points_from_rows, timeline_png

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _findings() -> dict:
    return {
        "schema": "kit.findings/1", "instance_id": "i-0123456789abcdef0", "region": "eu-west-1",
        "account_id": "123456789012",
        "verdict": {"cause": "kms-grant-denied", "denied_by": "identity-policy",
                    "principal_arn": f"arn:aws:iam::123456789012:user/{HOSTILE}", "key_arn": HOSTILE,
                    "confidence": "confirmed", "summary": HOSTILE},
        "ruled_out": [HOSTILE],
        "steps": [{"id": HOSTILE, "title": HOSTILE, "status": HOSTILE, "detail": HOSTILE}],
        "gaps": [{"call": HOSTILE, "error": HOSTILE, "impact": HOSTILE, "next_step": HOSTILE}],
        "remediation": [{"kind": HOSTILE, "target": HOSTILE, "document": {"Sid": HOSTILE}, "verified": True}],
    }


def test_no_markup_from_data_survives() -> None:
    findings = _findings()
    frame = pd.DataFrame({"user_agent": [HOSTILE], "tags": [{"Name": HOSTILE}]})
    out = "".join([
        blocks.verdict_banner(findings), blocks.steps_overview(findings["steps"]),
        blocks.step_block(findings["steps"][0], HOSTILE, {HOSTILE: frame}),
        blocks.ruled_out_block(findings["ruled_out"]), blocks.gaps_block(findings["gaps"]),
        blocks.remediation_block(findings["remediation"]), blocks.frame_table(frame, caption=HOSTILE),
        blocks.failure_block(HOSTILE, HOSTILE),
    ])
    assert "<script" not in out and "<img src=x" not in out
    assert "&lt;script&gt;" in out
    assert 'data-cause="kms-grant-denied"' in out


def test_banner_names_cause_layer_and_principal() -> None:
    findings = _findings()
    findings["verdict"]["principal_arn"] = "arn:aws:iam::123456789012:user/test"
    out = blocks.verdict_banner(findings)
    assert "KMS refused EC2&#x27;s grant" in out
    assert "identity-policy: no identity-based (IAM) policy allows it" in out
    assert "arn:aws:iam::123456789012:user/test" in out
    assert "kit-tone-bad" in out


def test_unknown_status_is_not_shown_as_pass() -> None:
    assert "kit-status-unknown" in blocks.status_badge("passed?")
    assert "kit-status-fail" in blocks.status_badge("fail")


def test_large_tables_are_cut_and_say_so() -> None:
    out = blocks.frame_table(pd.DataFrame({"n": range(45)}), max_rows=30)
    assert out.count("<tr>") == 31 and "15 more rows not shown" in out


def test_timeline_picture_is_a_png_even_with_hostile_labels() -> None:
    points = points_from_rows([
        {"time": "2024-01-01T10:00:00Z", "lane": "launch", "label": "StartInstances $\\frac{", "error": False},
        {"time": "2024-01-01T10:00:04Z", "lane": "kms", "label": HOSTILE, "error": True},
    ])
    png = timeline_png(points, title="$x")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert timeline_png(points_from_rows([]))[:4] == b"\x89PNG"


def test_timeline_keeps_the_burst_around_the_errors() -> None:
    from kit.views.timeline import incident_burst

    points = points_from_rows([
        {"time": "2024-01-01T10:00:00Z", "lane": "launch", "label": "StartInstances", "error": False},
        {"time": "2024-01-01T10:00:04Z", "lane": "kms", "label": "CreateGrant AccessDenied", "error": True},
        {"time": "2024-01-09T08:00:00Z", "lane": "state", "label": "stopped when collected", "error": False},
    ])
    burst, left_out = incident_burst(points)
    assert list(burst["label"]) == ["StartInstances", "CreateGrant AccessDenied"] and left_out == 1
