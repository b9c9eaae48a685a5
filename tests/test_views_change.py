"""The "What changed" HTML section (kit.views.change): escaping of everything from AWS, the statement diff, the
deciding statement marked, the time from change to failure, and the other changes."""

from __future__ import annotations

from html.parser import HTMLParser

from kit.views.change import change_section, diff_block

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def parsed(markup: str) -> Tags:
    tags = Tags()
    tags.feed(markup)
    return tags


def key_policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


ROOT = {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
        "Action": "kms:*", "Resource": "*"}
ADMINS = {"Sid": HOSTILE, "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:role/Admin"}, "Action": "kms:Put*",
          "Resource": "*"}


def verdict(**change: object) -> dict:
    base = {"event_id": HOSTILE, "event_name": "PutKeyPolicy" + HOSTILE, "event_time": "2026-11-29T10:00:00Z",
            "principal_arn": "arn:aws:iam::1:user/" + HOSTILE, "layer": "key-policy", "summary": HOSTILE,
            "before": key_policy(ROOT, ADMINS), "after": key_policy(ADMINS)}
    base.update(change)
    return {"change": base, "last_success": {"event_id": "e", "event_name": HOSTILE, "event_time": "2026-11-23T10:00:00Z",
                                             "instance_id": HOSTILE}}


def test_hostile_strings_in_change_events_are_escaped():
    others = [{"event_id": HOSTILE, "event_name": HOSTILE, "event_time": HOSTILE, "principal_arn": HOSTILE,
               "layer": HOSTILE, "why_not": HOSTILE}]
    markup = change_section(verdict(), others, {"side": "before", "statements": [
                                {"policy": "key-policy", "index": 0, "sid": "Enable IAM User Permissions"}]},
                            "2026-12-02T10:00:00Z")
    tags = parsed(markup)
    assert "script" not in tags.tags and "img" not in tags.tags
    assert "onerror" not in tags.attributes
    assert "&lt;script&gt;" in markup and "<script" not in markup


def test_the_diff_shows_the_removed_statement_as_the_one_that_mattered():
    markup = change_section(verdict(), (), {"side": "before", "statements": [
        {"policy": "inline:operate", "index": 1, "sid": "EbsKeys"},
        {"policy": "key-policy", "index": 0, "sid": "Enable IAM User Permissions"}]},
                            "2026-12-02T10:00:00Z")
    removed = markup.split('class="kit-change-removed kit-change-mattered"', 1)
    assert len(removed) == 2 and "Enable IAM User Permissions" in removed[1].split("</tr>", 1)[0]
    assert "kit-change-added" not in markup  # nothing was added
    assert "1 statement(s) unchanged" in markup
    assert "3 days" in markup  # change to failure: 2026-11-29T10:00 -> 2026-12-02T10:00
    assert "9 days" in markup  # last success to failure


def test_values_that_are_not_policies_show_before_and_after():
    markup = diff_block("Enabled", "Disabled")
    assert "Enabled" in markup and "Disabled" in markup and "kit-change-diff" not in markup
    unknown = diff_block(None, "arn:aws:kms:eu-north-1:1:key/abc")
    assert "not in the evidence" in unknown


def test_no_change_says_so():
    markup = change_section({"change": None, "last_success": None})
    assert "No recorded change" in markup and "none in the evidence" in markup
