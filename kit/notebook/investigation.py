"""One investigation inside the notebook: parameters in, evidence, frames, findings, and what the cells show.

The notebook stays thin: each cell calls one `Investigation` method. Headless (`interactive = False`) every
`show_*` displays static HTML, which nbconvert keeps in report.html. Interactive, each `show_*` displays a
live section (an Output widget) that re-renders when a control changes (kit.notebook's widgets), so an
analyst never re-runs cells by hand.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from kit.errors import BadInput
from kit.params import InvestigationParameters, from_namespace
from kit.views import html as blocks

if TYPE_CHECKING:  # only for the annotations: the notebook's first cell stays quick to import
    from kit.collect.memo import ResponseMemo
    from kit.notebook.prefetch import Prefetcher
    from kit.notebook.sessions import SessionCache
    from kit.diagnose.findings import Findings, StepResult
    from kit.evidence import Evidence
    from kit.frames import Frames
    from kit.notebook.account import AccountSetup
    from kit.notebook.controls import InvestigationControls
    from kit.notebook.live import LiveSections
    from kit.notebook.what_if import WhatIfEditor
    from kit.policy import PolicySet
    from kit.simulate.account import SimulatedAccount
    from kit.simulate.seeder import SeededScenario


ANALYSES_KEPT = 16  # analyses (evidence, frames, findings) kept per kernel for instant re-renders
PREFETCHED = 8  # failed instances investigated in the background once listed (newest first), for instant picks
ORG_SESSION_NAME = "kit-notebook-org"  # the management account's role session (as CloudTrail records it there)
PREFETCH_WAIT_S = 300.0  # a pick waits at most this long for the background analysis of the same instance
SEED_SECTIONS = (1, 2, 3, 4)  # the notebook has one section per step of the usual manual procedure
_SEED_NUMBER = re.compile(r"^\s*(\d+)\s*[.)]")
_Frame = TypeVar("_Frame", pd.DataFrame, None)  # view() keeps None as None


class Investigation:
    """The state of one investigation and the views the notebook displays."""

    def __init__(self, params: InvestigationParameters) -> None:
        self.params = params
        self.evidence: Evidence | None = None
        self.frames: Frames | None = None
        self.findings: Findings | None = None
        self.simulated: SimulatedAccount | None = None  # the simulated account this kernel started, if any
        self.scenario: SeededScenario | None = None  # its seeded scenario
        self._sections: LiveSections | None = None  # when interactive
        self.controls: InvestigationControls | None = None  # when interactive
        self.what_if: WhatIfEditor | None = None  # when interactive
        self.listeners: list[Callable[[], None]] = []  # called after every (re-)analysis
        self.account_setup: AccountSetup | None = None  # how the Region and credentials were found
        self._analysed: dict[tuple[Any, ...], tuple[Evidence, Frames, Findings]] = {}  # by _inputs, oldest first
        self._lock = threading.Lock()  # guards _analysed and _requested (the prefetch threads write _analysed)
        self._showing = threading.RLock()  # one analysis is put on screen at a time
        self._requested = 0  # analyses asked for; only the latest one is shown (a pick of A, then of B: B)
        from kit.collect.memo import ResponseMemo  # (standard library only: the first cell stays quick)

        self._memo = ResponseMemo()  # responses read in this kernel, reused (made here: threads share it)
        self._prefetcher: Prefetcher | None = None  # background investigations of the listed instances
        from kit.notebook.sessions import SessionCache

        # sessions by credentials, kept until near expiry: ("member", profile, role, Region), ("management", profile,
        # org_role_arn); in memory only
        self.sessions: SessionCache = SessionCache()
        self._findings_dict: dict[str, Any] | None = None  # findings_dict() of the current findings
        self._findings_dict_of: Findings | None = None  # ... which findings it was made from
        self._timelines: dict[tuple[str, str], str] = {}  # timelines drawn, by what they show, oldest first
        self.resolved_instances: list[str] = []  # asg / fleet_id / error_text: every failed instance found

    # -- starting -------------------------------------------------------------------------------------------

    @classmethod
    def start(cls, namespace: Mapping[str, Any] | InvestigationParameters) -> Investigation:
        """Validate the parameters (a notebook's globals, or parameters), reach the account, investigate.

        With `scenario` set and no AWS_ENDPOINT_URL, the kernel starts the simulated account itself, seeds
        the scenario and takes its instance and Region. Without an instance id, an interactive notebook
        waits for the analyst to pick one; a headless run stops with BadInput.
        """
        params = namespace if isinstance(namespace, InvestigationParameters) else from_namespace(namespace)
        setup = None
        if not params.scenario or os.environ.get("AWS_ENDPOINT_URL"):
            from kit.notebook.account import prepare

            setup = prepare(params.region)  # the standard configuration, or the simulated account's Region
            if setup.region and setup.region != params.region:
                from kit.params import validate

                params = validate({**params.to_dict(), "region": setup.region})
        investigation = cls(params)
        investigation.account_setup = setup
        investigation._reach_account()
        investigation._resolve_entry_point()
        if investigation.params.instance_id and investigation.params.region:
            investigation.analyse()
        elif not investigation.params.interactive:
            missing = "instance_id" if not investigation.params.instance_id else "region"
            raise BadInput(missing, "a value (or a scenario) when interactive is false", "")
        return investigation

    def _resolve_entry_point(self) -> None:
        """asg / fleet_id / error_text instead of instance_id: investigate the newest failed instance behind it
        (all of them in `resolved_instances`; kit.collect.targets)."""
        if self.params.instance_id or not self.params.entry_point or not self.params.region:
            return
        from kit.collect.options import collect_options
        from kit.collect.targets import resolve_parameters
        from kit.diagnose.state_reason import failed_to_launch, read_instance_state

        runs, _ = resolve_parameters(self.params, lambda i: failed_to_launch(read_instance_state(i)),
                                     session=collect_options(self.params).session(session_name="kit-resolve"))
        self.resolved_instances = [r.instance_id for r in runs]
        if not runs:
            name, value = self.params.entry_point
            raise BadInput(name, "an entry point behind which an instance failed to launch", value)
        self.params = runs[0]

    def _reach_account(self) -> None:
        if not self.params.scenario:
            return
        from kit.simulate.catalogue import scenario_named

        scenario = scenario_named(self.params.scenario)  # BadInput names the valid scenarios
        if os.environ.get("AWS_ENDPOINT_URL"):
            if not self.params.instance_id:
                raise BadInput("instance_id", "the scenario's instance id from `kit simulate` (AWS_ENDPOINT_URL is "
                               "set, so this notebook does not start its own simulated account)", "")
            return
        from kit.simulate import SimulatedAccount

        self.simulated = SimulatedAccount(scenarios=[scenario.name])
        self.simulated.__enter__()
        os.environ.update(self.simulated.environ())
        self.scenario = next(s for s in self.simulated.seeded if s.name == scenario.name)
        self.params = replace(self.params, instance_id=self.scenario.instance_id, region=self.scenario.region)

    def analyse(self, instance_id: str | None = None, *, window_before_minutes: int | None = None,
                window_after_minutes: int | None = None, region: str | None = None, org_role_arn: str | None = None,
                fresh: bool = False) -> None:
        """Collect the evidence, build the frames and diagnose (again, for another instance, Region, window or
        management-account role: `org_role_arn`, "" for none).

        The evidence of inputs already investigated in this kernel (same instance, Region, window, source) is
        reused, so going back to an instance or window re-renders without reading the account again;
        `fresh=True` reads it again.
        """
        changes: dict[str, Any] = {}
        if instance_id is not None:
            changes["instance_id"] = instance_id
        if region is not None:
            changes["region"] = region
        if window_before_minutes is not None:
            changes["window_before_minutes"] = int(window_before_minutes)
        if window_after_minutes is not None:
            changes["window_after_minutes"] = int(window_after_minutes)
        if org_role_arn is not None:
            changes["org_role_arn"] = org_role_arn
        params = self.params
        if changes:
            from kit.params import validate

            params = validate({**params.to_dict(), **changes})
        # all or nothing: a failure (an unknown instance, an unreadable account) leaves the last analysis on screen
        key = _inputs(params)
        with self._lock:
            self._requested += 1
            request = self._requested
        if fresh:
            self.memo.clear()  # read the account again (and keep what is read for the next change)
        else:
            self._wait_for_prefetch(key)
        with self._lock:
            cached = None if fresh else self._analysed.get(key)
        if cached is None:
            cached = self._collect_and_diagnose(params, self.memo)
        self._keep(key, cached)
        with self._showing:
            with self._lock:
                if request != self._requested:  # the analyst asked for something else meanwhile: that is shown
                    return
            self.params = params
            self.evidence, self.frames, self.findings = cached
            self._findings_dict = None
            for listener in self.listeners:
                listener()
            if self._sections is not None:
                self._sections.refresh()

    @property
    def memo(self) -> ResponseMemo:
        """The responses read in this kernel (kit.collect.memo): a new window reads only CloudTrail, and only
        the part of its range not read yet; another instance reuses what it shares (aliases, SCPs, trails)."""
        return self._memo

    @property
    def prefetcher(self) -> Prefetcher:
        """The background investigations of the listed instances (kit.notebook.prefetch)."""
        if self._prefetcher is None:
            from kit.notebook.prefetch import Prefetcher

            self._prefetcher = Prefetcher(self._prefetch_one)
        return self._prefetcher

    def _keep(self, key: tuple[Any, ...], analysed: tuple[Evidence, Frames, Findings], *,
              unless_held: bool = False) -> None:
        """Remember an analysis (most recently used last; the oldest go beyond ANALYSES_KEPT); `unless_held`:
        not when one is already kept for `key` (checked and stored under one lock)."""
        with self._lock:
            if unless_held and key in self._analysed:
                return
            self._analysed.pop(key, None)
            self._analysed[key] = analysed
            while len(self._analysed) > ANALYSES_KEPT:
                self._analysed.pop(next(iter(self._analysed)))

    def prefetch(self, instance_ids: list[str], limit: int = PREFETCHED) -> None:
        """Investigate up to `limit` of `instance_ids` (same Region, window and source) in the background, so
        picking one of them shows its verdict at once (kit.notebook.prefetch: a few at a time, the same
        read-only calls as a pick). Replaces what was queued before (another Region's instances are dropped
        before they start). A failure is simply not remembered: picking that instance investigates it again
        and shows the error."""
        wanted = [i for i in dict.fromkeys(instance_ids) if i and i != self.params.instance_id][:limit]
        todo = {}
        with self._lock:
            for instance in wanted:
                params = replace(self.params, instance_id=instance)
                if _inputs(params) not in self._analysed:
                    todo[_inputs(params)] = params
        self.prefetcher.schedule(todo)

    def _prefetch_one(self, params: InvestigationParameters) -> None:
        key = _inputs(params)
        try:
            analysed = self._collect_and_diagnose(params, self.memo)
        except Exception:  # noqa: BLE001 - not remembered: the pick investigates it again and says why
            return
        self._keep(key, analysed, unless_held=True)  # a pick (a fresh one, say) got there first: its analysis stays

    def _wait_for_prefetch(self, key: tuple[Any, ...]) -> None:
        """If the background is investigating exactly these inputs, wait for it instead of doing it twice (and
        if it is only queued, take it off the queue: this pick investigates it now)."""
        if self._prefetcher is None:
            return
        running = self._prefetcher.claim(key)
        if running is not None:
            running.wait(timeout=PREFETCH_WAIT_S)

    def _collect_and_diagnose(self, params: InvestigationParameters, memo: ResponseMemo | None = None
                              ) -> tuple[Evidence, Frames, Findings]:
        """The analysis alone: collect (kit.collect; reusing `memo`'s responses when given), build the frames,
        diagnose."""
        from kit.collect import load_evidence
        from kit.diagnose import diagnose
        from kit.frames import build_frames

        if memo is not None and params.source == "live":
            from kit.collect.options import collect_options

            options = collect_options(params).load_options(self._session(params), self._org_session(params))
            options["memo"] = memo
        else:
            options = self._collect_options(params)
        evidence = load_evidence(params.source, params.instance_id, params.region, **options)
        frames = build_frames(evidence)
        return evidence, frames, diagnose(evidence, frames)

    def _session(self, params: InvestigationParameters) -> Any:
        """The member account's session for the profile, role and Region (kit.notebook.sessions: made once, kept
        until its credentials are near expiry; its clients' service models load once, its role is assumed once)."""
        from kit.collect.options import collect_options

        return self.sessions.get(("member", params.profile, params.role_arn, params.region),
                                 lambda: collect_options(params).session())

    def _org_session(self, params: InvestigationParameters) -> Any:
        """The management account's session as `org_role_arn` (assumed with the profile's credentials), kept
        beside the member's the same way; None when no role is given. A role that cannot be assumed is BadInput
        naming `org_role_arn`, with AWS's error code."""
        if not params.org_role_arn or params.source != "live":
            return None
        from botocore.exceptions import BotoCoreError, ClientError

        from kit.collect.options import collect_options

        def assume() -> Any:
            try:
                return collect_options(params).org_session(session_name=ORG_SESSION_NAME)
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
                raise BadInput("org_role_arn", "a role in the management account these credentials may assume "
                               f"(AssumeRole answered {code})", params.org_role_arn) from exc
            except BotoCoreError as exc:
                raise BadInput("org_role_arn", "a role in the management account these credentials may assume "
                               f"(AssumeRole failed: {type(exc).__name__})", params.org_role_arn) from exc

        return self.sessions.get(("management", params.profile, params.org_role_arn), assume)

    def set_org_role_arn(self, org_role_arn: str) -> None:
        """Read the organization's management account as `org_role_arn` ("" : not read) from now on, and
        investigate the current instance again with it (nothing to investigate while none is picked). BadInput
        (naming org_role_arn) for a malformed ARN or a role that cannot be assumed: nothing runs, the last
        analysis stays on screen."""
        from kit.params import validate

        params = validate({**self.params.to_dict(), "org_role_arn": org_role_arn.strip()})
        if params.org_role_arn == self.params.org_role_arn:
            return
        self._org_session(params)  # assumed now: a role that cannot be assumed is said before anything runs
        if params.instance_id and params.region:
            self.analyse(org_role_arn=params.org_role_arn)
            return
        with self._showing:
            self.params = params
            for listener in self.listeners:
                listener()

    def set_region(self, region: str) -> None:
        """Switch to another Region: nothing is investigated until an instance there is picked."""
        from kit.params import validate

        params = validate({**self.params.to_dict(), "region": region, "instance_id": ""})
        if self._prefetcher is not None:
            self._prefetcher.cancel()  # the other Region's instances are not wanted any more
        with self._showing:
            with self._lock:
                self._requested += 1  # an analysis still running for the other Region is not shown
            self.params = params
            self.evidence = self.frames = self.findings = None
            self._findings_dict = None
            for listener in self.listeners:
                listener()
            if self._sections is not None:
                self._sections.refresh()

    def _collect_options(self, p: InvestigationParameters) -> dict[str, Any]:
        """Options for kit.collect.load_evidence from the parameters (kit.collect.options)."""
        from kit.collect.options import collect_options

        return collect_options(p).load_options()

    # -- values as the reader sees them (redacted when asked) -----------------------------------------------

    def diagnosed(self) -> Findings:
        """The findings of the last analysis; BadInput while no instance has been investigated."""
        if self.findings is None:
            raise BadInput("instance_id", "an instance to investigate (pick one, or set the parameter)", "")
        return self.findings

    def findings_dict(self) -> dict[str, Any]:
        """findings.json of this investigation (with when, by which kit and from what evidence: the ticket
        fields of kit.diagnose.ticket), redacted when `redact` is true."""
        if self._findings_dict is not None and self._findings_dict_of is self.findings:
            return self._findings_dict
        from kit import version
        from kit.diagnose.ticket import run_fields

        findings = {**self.diagnosed().to_dict(), **run_fields(self.evidence, version())}
        if self.params.redact:
            from kit.redact import redact_value

            findings = redact_value(findings)
            findings["account_id"] = None
        self._findings_dict, self._findings_dict_of = findings, self.findings
        return findings

    def view(self, frame: _Frame) -> _Frame:
        """A frame as shown: every text cell redacted when `redact` is true."""
        if not self.params.redact or frame is None:
            return frame
        from kit.redact import redact_value

        return frame.map(lambda v: redact_value(v) if isinstance(v, (str, dict, list)) else v)

    def text(self, value: str) -> str:
        """A string as shown (redacted when asked)."""
        if not self.params.redact:
            return value
        from kit.redact import redact_text

        return redact_text(value)

    # -- what the cells show ---------------------------------------------------------------------------------

    @property
    def sections(self) -> LiveSections | None:
        """The live sections on screen, or None when headless."""
        return self._sections

    def show(self, render: Callable[[], str], name: str) -> None:
        """Display one block: static HTML headless, a live section when interactive (returns nothing, so a
        cell never shows a Python repr under its output)."""
        from IPython.display import HTML, display

        if self.params.interactive:
            from kit.notebook.live import LiveSections

            if self._sections is None:
                self._sections = LiveSections()
            from kit.notebook.summary import style

            section = self._sections.add(
                lambda: blocks.stylesheet() + style() + f'<div class="kit-live">{self._guarded(render)}</div>', name,
                self._shown_inputs)
            display(section.output)
            return
        display(HTML(blocks.stylesheet() + render()))

    def _shown_inputs(self) -> tuple[object, ...]:
        """What every section of the analysis is drawn from: the parameters (as values), and the evidence, frames
        and findings (as objects: a new analysis, even an equal one, is drawn again; kit.notebook.live)."""
        return (_inputs(self.params), self.params.interactive, self.evidence, self.frames, self.findings)

    def _guarded(self, render: Callable[[], str]) -> str:
        if self.findings is None:
            return '<p class="kit-muted">Pick an instance in the controls above to investigate it.</p>'
        return render()

    def show_investigated(self) -> None:
        """What was investigated, from which source, and how much evidence there is.

        Headless, the output also records the instance and Region in its metadata (`kit_target`), so a run
        whose scenario instance was resolved here can still name it if a later cell fails.
        """
        if self.params.interactive:
            self.show(self.render_investigated, "investigated")
            return
        from IPython.display import HTML, display

        target = {"instance_id": self.params.instance_id, "region": self.params.region}
        display(HTML(blocks.stylesheet() + self.render_investigated()), metadata={"kit_target": target})

    def show_controls(self) -> None:
        """Interactive: the instance picker, CloudTrail window and volume/key chooser (headless: nothing)."""
        if not self.params.interactive:
            return
        from IPython.display import display

        from kit.notebook.controls import InvestigationControls

        self.controls = InvestigationControls(self)
        display(self.controls.widget())

    def show_what_if(self) -> None:
        """Interactive: the what-if policy editor (headless: nothing; the failing request is shown above)."""
        if not self.params.interactive:
            return
        from IPython.display import HTML, display

        if self.params.redact:  # the editor must show policies whole, account ids included
            display(HTML('<p class="kit-muted">The what-if editor is off while <code>redact</code> is true: it '
                         "would show the policies unmasked.</p>"))
            return
        from kit.notebook.what_if import WhatIfEditor

        self.what_if = WhatIfEditor(self)
        display(self.what_if.widget())

    def show_verdict(self) -> None:
        """The verdict banner and the steps at a glance."""
        self.show(lambda: self.render_verdict() + self.render_steps_overview(), "verdict")

    def show_manual_step(self, number: int) -> None:
        """The step(s) automating step `number` of the usual manual procedure."""
        self.show(lambda: self.render_steps(self.seed_steps(number)), f"manual-step-{number}")

    def show_steps_beyond(self) -> None:
        """Every step the manual procedure does not have, in catalogue order."""
        self.show(lambda: self.render_steps(self.steps_beyond()), "steps-beyond")

    def show_timeline(self) -> None:
        """The incident's timeline picture and its table."""
        self.show(self.render_timeline, "timeline")

    def show_ruled_out(self) -> None:
        """The causes the evidence excludes."""
        self.show(lambda: blocks.ruled_out_block(self.findings_dict()["ruled_out"]), "ruled-out")

    def show_gaps(self) -> None:
        """Evidence that could not be had, and the commands to get it."""
        self.show(lambda: blocks.gaps_block(self.findings_dict()["gaps"]), "gaps")

    def show_remediation(self) -> None:
        """The proposed changes and whether the evaluator verified them."""
        self.show(lambda: blocks.remediation_block(self.findings_dict()["remediation"]), "remediation")

    def show_dig_deeper(self) -> None:
        """Interactive: pandas examples over `investigation.frames`, run on the instance in view (headless: nothing)."""
        if not self.params.interactive:
            return
        from kit.notebook import dig_deeper

        self.show(lambda: dig_deeper.render(self.frames, self.view), "dig-deeper")

    def show_failing_request(self) -> None:
        """The failing authorization request and the evaluator's decision on it."""
        self.show(self.render_failing_request, "failing-request")

    # -- renderings (HTML strings, everything escaped) ---------------------------------------------------------

    def render_investigated(self) -> str:
        p = self.params
        rows = [("Instance", p.instance_id), ("Region", p.region), ("Source", p.source),
                ("CloudTrail window", f"{p.window_before_minutes} min before, {p.window_after_minutes} min after"),
                ("CloudTrail source", p.cloudtrail_source or "lookup-events")]
        if p.scenario:
            rows.append(("Scenario", f"{p.scenario} (simulated account)"))
        if self.evidence is not None:
            rows += [("Evidence documents", str(len(self.evidence.documents))),
                     ("AWS calls made", str(len(self.evidence.calls))),
                     ("Gaps", str(len(self.evidence.gaps))),
                     ("Collected by", self.evidence.collector_arn or ""), ("Collected at", self.evidence.collected_at or "")]
        from kit import version

        rows.append(("Kit version", version()))
        frame = pd.DataFrame([(k, self.text(str(v))) for k, v in rows], columns=["", "value"])
        return '<div class="kit-report">' + blocks.frame_table(frame, caption="What was investigated") + "</div>"

    def render_verdict(self) -> str:
        from kit.notebook.summary import management_note
        from kit.views.change import change_section_of

        findings = self.findings_dict()
        return blocks.verdict_banner(findings) + change_section_of(self.diagnosed(), findings["verdict"],
                                                                   redact=self.params.redact) + management_note(findings)

    def render_steps_overview(self) -> str:
        return blocks.steps_overview(self.findings_dict()["steps"])

    def render_steps(self, steps: list[StepResult]) -> str:
        if not steps:
            return '<p class="kit-muted">No step of the diagnosis covers this.</p>'
        shown = {s["id"]: s for s in self.findings_dict()["steps"]}
        parts = []
        for step in steps:
            evidence = {"evidence": self.view(step.rows)} if isinstance(step.rows, pd.DataFrame) else {}
            parts.append(blocks.step_block(shown.get(step.id, step.to_dict()), self.text(step.checks or ""),
                                           evidence))
        return "".join(parts)

    def render_timeline(self) -> str:
        from kit.views.timeline import timeline_svg

        points = self.timeline_points()
        title = self.text(f"{self.params.instance_id} in {self.params.region}")
        key = (title, points.to_json(date_format="iso"))  # the picture depends on these alone
        if key not in self._timelines:  # drawn once per distinct timeline
            self._timelines[key] = timeline_svg(points, title=title)
            while len(self._timelines) > ANALYSES_KEPT:
                self._timelines.pop(next(iter(self._timelines)))
        return self._timelines[key]

    def render_report(self) -> str:
        """report.html's body, answer first (kit.views.report_page)."""
        from kit.views.report_page import report_page

        return report_page(self.diagnosed(), self.findings_dict(), self.frames)

    def render_failing_request(self) -> str:
        request = self.findings.request if self.findings is not None else None
        decision = self.findings.decision if self.findings is not None else None
        if request is None:
            return '<p class="kit-muted">No authorization request failed in this incident.</p>'
        rows = [("principal", request.principal_arn), ("action", request.action), ("resource", request.resource),
                ("context", json.dumps(dict(request.context), default=str))]
        if decision is not None:
            policies = self.findings.policies if self.findings is not None else None
            unseen = _stand_in_layers(policies)
            if decision.allowed and unseen:  # only a stand-in allowed it: the unseen layer decides (issue 16 #17)
                rows += [("decision", "unknown"),
                         ("why", f"the layers the evidence shows allow it; the {', '.join(unseen)} "
                                 "could not be read, so the evaluator cannot say")]
            else:
                rows += [("decision", decision.decision), ("decided by", decision.decided_by),
                         ("layer", decision.layer or ""), ("why", " ".join(decision.explanation))]
        frame = pd.DataFrame([(k, self.text(str(v))) for k, v in rows], columns=["", "value"])
        return '<div class="kit-report">' + blocks.frame_table(frame, caption="The failing request") + "</div>"

    # -- the steps, in the manual procedure's order first ---------------------------------------------------------

    def seed_steps(self, number: int) -> list[StepResult]:
        """Step results automating seed step `number` (steps.yaml `seed_step`)."""
        return [s for s in self.diagnosed().steps if _seed_number(s.seed_step) == number]

    def steps_beyond(self) -> list[StepResult]:
        """Step results that go beyond the manual procedure."""
        return [s for s in self.diagnosed().steps if _seed_number(s.seed_step) not in SEED_SECTIONS]

    def timeline_points(self) -> pd.DataFrame:
        """The findings' timeline frame as points of the picture (time, lane, label, error), redacted if asked."""
        from kit.views.timeline import points_from_timeline

        return self.view(points_from_timeline(self.diagnosed().timeline))

    # -- finishing ---------------------------------------------------------------------------------------------

    def finish(self) -> None:
        """Write findings.json into `out_dir` (when set); headless, hand report.html's body to the run (an output
        with `kit_report` metadata, which kit.report.run takes out of the saved notebook); stop a simulated
        account in a headless run."""
        if not self.params.interactive and self.findings is not None:
            from IPython.display import HTML, display

            display(HTML(self.render_report()), metadata={"kit_report": True})
        if self.params.out_dir and self.findings is not None:
            path = Path(self.params.out_dir) / "findings.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.findings_dict(), indent=2, default=str) + "\n", encoding="utf-8")
            print(f"findings.json written ({path.stat().st_size} bytes)")
        if not self.params.interactive:
            self.close()

    def close(self) -> None:
        """Stop the background investigations and the simulated account this kernel started (if any)."""
        if self._prefetcher is not None:
            self._prefetcher.cancel()
        if self.simulated is not None:
            self.simulated.__exit__(None, None, None)
            for name in ("AWS_ENDPOINT_URL",):
                os.environ.pop(name, None)
            self.simulated = None


_NOT_INPUTS = ("interactive", "out_dir")  # parameters that change how results are shown or written, not them


def _inputs(p: InvestigationParameters) -> tuple[Any, ...]:
    """What an analysis depends on: the same inputs, the same evidence."""
    return tuple((name, value) for name, value in sorted(p.to_dict().items()) if name not in _NOT_INPUTS)


def _seed_number(seed_step: Any) -> int | None:
    """The seed article's step number a step automates: `"2. CloudTrail ..."` -> 2; `"(beyond ...)"` -> None."""
    if seed_step is None:
        return None
    match = _SEED_NUMBER.match(str(seed_step))
    return int(match.group(1)) if match else None


def _stand_in_layers(policies: PolicySet | None) -> list[str]:
    """The layers a stand-in replaced in an evaluated PolicySet (kit.diagnose.authorization's stand-ins)."""
    from kit.diagnose.authorization import STAND_IN_PREFIX

    if policies is None:
        return []
    named = [p.name for p in policies.identity] + [p.name for p in policies.session_policies]
    named += [p.name for level in policies.scps for p in level]
    named += [p.name for p in (policies.resource_policy, policies.boundary) if p is not None]
    return sorted({name[len(STAND_IN_PREFIX):] for name in named if name.startswith(STAND_IN_PREFIX)})
