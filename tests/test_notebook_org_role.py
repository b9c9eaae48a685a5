"""The notebook's management-account role (`org_role_arn`) against the simulated organization over HTTP: the Org
role control, prefilled from the parameter, re-investigates the instance in view; with the role the verdict of
`change-scp-attached` names the AttachPolicy recorded in the management account, without it the verdict says
where that change is recorded; a malformed ARN is said next to the control and runs nothing. The management
role is assumed once and its session kept beside the member account's (counted where the simulator records
each AssumeRole it answered), and the memo never gives one caller's answers to the other.

The widgets run without a browser: tests set `.value` as a person would and read what the controls show.
"""

from __future__ import annotations

import http.server
import json
import threading
from datetime import datetime, timedelta, timezone

import pytest

from kit.collect.clients import CallRecorder, ReadOnlyClients, credentials_expiry, make_session
from kit.collect.fetcher import Fetcher
from kit.collect.memo import ResponseMemo
from kit.notebook.controls import InvestigationControls
from kit.notebook.investigation import ORG_SESSION_NAME, Investigation
from kit.notebook.sessions import EXPIRY_MARGIN, SessionCache
from kit.params import validate
from kit.simulate.organization import change_reader_arn
from kit.simulate.world import MANAGEMENT_ACCOUNT

SCENARIO = "change-scp-attached"


def _assumed(session_name: str) -> int:
    """How many AssumeRole calls of the management account's reader role, with this session name, the simulated
    STS has answered (its own record of each one, server side)."""
    from moto.sts.models import sts_backends

    return sum(1 for role in sts_backends[MANAGEMENT_ACCOUNT]["aws"].assumed_roles
               if role.role_arn == change_reader_arn() and role.session_name == session_name)


def _start(sim, org_role_arn: str = "") -> tuple[Investigation, InvestigationControls]:  # type: ignore[no-untyped-def]
    seeded = sim.scenario(SCENARIO)
    investigation = Investigation.start(validate({"instance_id": seeded.instance_id, "region": seeded.region,
                                                  "interactive": True, "org_role_arn": org_role_arn}))
    investigation.show_verdict()
    controls = InvestigationControls(investigation, failed=None)
    investigation.prefetcher.cancel()  # the listed instances are not what these tests look at
    investigation.prefetcher.wait_idle(300)
    return investigation, controls


def test_the_org_role_control_names_the_scp_change_and_without_it_the_verdict_says_where_it_is(sim, sim_env) -> None:
    investigation, controls = _start(sim)
    verdict = investigation.sections.named("verdict")
    assert controls.org_role.value == "" and controls.org_role.placeholder.startswith("arn:aws:iam::")
    assert investigation.findings_dict()["verdict"]["change"] is None
    for shown in (verdict.html, controls.summary.html):  # where the change is recorded, in words
        assert "recorded only in the organization&#x27;s management account, which was not read" in shown
    assert "AttachPolicy by" not in verdict.html

    controls.org_role.value = change_reader_arn()  # Enter in the field: the instance in view again, with the role
    assert investigation.params.org_role_arn == change_reader_arn()
    change = investigation.findings_dict()["verdict"]["change"]
    assert change is not None and (change["event_name"], change["layer"]) == ("AttachPolicy", "scp")
    assert change["principal_arn"].startswith(f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:")  # made there, read there
    assert "AttachPolicy by" in verdict.html and change["event_id"] in verdict.html
    assert "AttachPolicy (scp)" in controls.summary.html
    assert "was not read" not in verdict.html + controls.summary.html
    assert controls.org_role_error.value == "" and "management account read" in controls.status.value

    controls.org_role.value = ""  # empty: not read, as before (the analysis without the role, kept)
    assert investigation.params.org_role_arn == "" and investigation.findings_dict()["verdict"]["change"] is None
    assert "which was not read" in verdict.html


def test_the_control_is_prefilled_from_the_parameter(sim, sim_env) -> None:
    investigation, controls = _start(sim, change_reader_arn())
    assert controls.org_role.value == change_reader_arn()
    assert investigation.findings_dict()["verdict"]["change"]["event_name"] == "AttachPolicy"
    assert "AttachPolicy (scp)" in controls.summary.html
    held = investigation.sessions.get(("management", "", change_reader_arn()), lambda: None)
    credentials = held.get_credentials().get_frozen_credentials()  # the assumed role's, in memory only
    shown = json.dumps([investigation.findings_dict(), investigation.evidence.documents, investigation.evidence.calls],
                       default=str) + "".join(section.html for section in investigation.sections.sections)
    assert credentials.secret_key not in shown and credentials.token not in shown


@pytest.mark.parametrize("typed", ["arn:aws:iam::1111:role/OrgReader", "OrgReader",
                                   "arn:aws:iam::111122223333:user/org-admin", "<script>alert(1)</script>"])
def test_a_bad_role_arn_is_said_next_to_the_control_and_runs_nothing(sim, sim_env, typed: str) -> None:
    investigation, controls = _start(sim, change_reader_arn())
    evidence, findings, made, sessions = (investigation.evidence, investigation.findings, investigation.memo.made,
                                          investigation.sessions.made)
    controls.org_role.value = typed
    error = controls.org_role_error.value
    assert "org_role_arn: expected an IAM role ARN in the organization" in error
    assert "<script>" not in error  # escaped
    assert investigation.params.org_role_arn == change_reader_arn()  # the role in use is unchanged
    assert investigation.evidence is evidence and investigation.findings is findings  # nothing ran
    assert investigation.memo.made == made and investigation.sessions.made == sessions  # nothing was read
    controls.org_role.value = change_reader_arn()  # back to the role in use: the error goes
    assert controls.org_role_error.value == ""


def test_the_management_role_is_assumed_once_for_every_collection(sim, sim_env) -> None:
    """The listed instances' background investigations (two threads at once, each needing the session first), a
    pick, a window change and a fresh read all use one session, assumed once."""
    before = _assumed(ORG_SESSION_NAME)
    seeded = sim.scenario(SCENARIO)
    investigation = Investigation.start(validate({"region": seeded.region, "interactive": True,
                                                  "org_role_arn": change_reader_arn()}))
    investigation.show_verdict()
    controls = InvestigationControls(investigation)  # lists the Region's failed instances: investigated in the background
    assert investigation.prefetcher.wait_idle(300) and investigation.prefetcher.done >= 2
    assert _assumed(ORG_SESSION_NAME) == before + 1
    controls.pick(seeded.instance_id)
    assert investigation.findings_dict()["verdict"]["change"]["event_name"] == "AttachPolicy"
    first = investigation.evidence
    controls.presets[2].click()  # another window: another collection
    assert investigation.evidence is not first and investigation.params.window_before_minutes == 360
    investigation.analyse(fresh=True)  # everything read again
    assert investigation.findings_dict()["verdict"]["change"]["event_name"] == "AttachPolicy"
    assert _assumed(ORG_SESSION_NAME) == before + 1


def test_an_assumed_session_is_replaced_near_its_credentials_expiry(sim, sim_env) -> None:
    now = [datetime.now(timezone.utc)]
    cache = SessionCache(clock=lambda: now[0])
    name = "kit-test-expiry"
    before = _assumed(name)

    def assume():  # type: ignore[no-untyped-def]
        return make_session(role_arn=change_reader_arn(), region="us-east-1", session_name=name)

    first = cache.get(("management", "", change_reader_arn()), assume)
    expiry = credentials_expiry(first)
    assert expiry is not None and expiry > now[0] + EXPIRY_MARGIN  # AssumeRole's Expiration, kept with the session
    now[0] = expiry - EXPIRY_MARGIN - timedelta(seconds=1)
    assert cache.get(("management", "", change_reader_arn()), assume) is first and _assumed(name) == before + 1
    now[0] = expiry - EXPIRY_MARGIN  # near expiry: assumed again
    second = cache.get(("management", "", change_reader_arn()), assume)
    assert second is not first and _assumed(name) == before + 2
    plain = cache.get(("member", "", "", "us-east-1"), lambda: make_session(region="us-east-1"))
    assert credentials_expiry(plain) is None  # the standard chain refreshes its own credentials: kept KEPT


def test_the_memo_keeps_the_management_accounts_answers_as_its_own_caller(sim, sim_env) -> None:
    """The same LookupEvents query (Region, attribute, range) asked by the management role and by the member
    account through one memo: each gets its own account's events; asked again, each is answered from memory."""
    memo = ResponseMemo(delivery_delay=timedelta(0))
    end = datetime.now(timezone.utc) - timedelta(minutes=1)
    query = {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "AttachPolicy"}],
             "StartTime": end - timedelta(days=30), "EndTime": end}
    org = make_session(role_arn=change_reader_arn(), region="us-east-1", session_name="kit-test-memo")
    member = make_session(region="us-east-1")

    def ask(session) -> tuple[list[str], int]:  # type: ignore[no-untyped-def]
        recorder = CallRecorder()
        fetch = Fetcher(ReadOnlyClients(session, "us-east-1", recorder), memo=memo)
        answer = fetch.fetch(None, "cloudtrail", "LookupEvents", query) or {}
        return sorted(e["EventId"] for e in answer.get("Events", [])), len([c for c in recorder.calls
                                                                              if not c.get("reused")])

    management_events, sent = ask(org)
    assert management_events and sent == 1  # the AttachPolicy events: recorded in the management account
    member_events, sent = ask(member)
    assert sent == 1 and not set(member_events) & set(management_events)  # asked, never the other's answer
    assert ask(org) == (management_events, 0) and ask(member) == (member_events, 0)


class _RefusingSts(http.server.BaseHTTPRequestHandler):
    """An STS endpoint that refuses every AssumeRole as AWS does when the role's trust policy does not name the
    caller (403, AccessDenied, in STS's query-protocol error shape)."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                b"<Code>AccessDenied</Code><Message>User: arn:aws:iam::123456789012:user/test is not authorized to "
                b"perform: sts:AssumeRole on resource: " + change_reader_arn().encode() + b"</Message></Error>"
                b"<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ErrorResponse>")
        self.send_response(403)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_role_that_cannot_be_assumed_is_said_next_to_the_control_and_runs_nothing(
        sim, sim_env, monkeypatch: pytest.MonkeyPatch) -> None:
    investigation, controls = _start(sim)
    evidence, made = investigation.evidence, investigation.memo.made
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusingSts)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", f"http://127.0.0.1:{server.server_address[1]}")
        controls.org_role.value = change_reader_arn()
    finally:
        server.shutdown()
        server.server_close()
    error = controls.org_role_error.value
    assert "org_role_arn: expected a role in the management account these credentials may assume" in error
    assert "AccessDenied" in error
    assert investigation.params.org_role_arn == "" and investigation.evidence is evidence
    assert investigation.memo.made == made  # nothing was collected
