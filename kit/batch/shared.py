"""Evidence collected once per account and Region in the parent, handed to each notebook as a bundle.

For every live incident, the parent collects the evidence with kit.collect's own collector, through a
`SharingSession` per credentials (profile / role), so what incidents have in common (the key, its policy
and grants, IAM authorization details, SCPs, CloudTrail minutes) is read once. The evidence is written as
an ordinary bundle in the incident's folder (`evidence/`) and the notebook runs on `bundle:DIR`: it needs
no AWS access, and the bundle stays with the report as the postmortem's evidence archive (except for
`redact: true` incidents, whose raw evidence goes to a private folder removed when the batch ends).

Incidents that name a scenario (the notebook starts its own simulated account) or that already read a
bundle or a cli: folder run as they are.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from kit.batch.incidents import Incident
from kit.batch.sharing import SharingSession
from kit.params import InvestigationParameters

EVIDENCE_FOLDER = "evidence"


class SharedEvidence:
    """Collects live incidents' evidence with shared calls; `prepare` is the batch scheduler's hook."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._sessions: dict[tuple[str, str], SharingSession] = {}
        self._lock = threading.Lock()
        self.collected = 0
        self._scratch_dir: Path | None = None

    def __enter__(self) -> SharedEvidence:
        return self

    def __exit__(self, *_: Any) -> None:
        with self._lock:
            self._sessions.clear()
            scratch, self._scratch_dir = self._scratch_dir, None
        if scratch is not None:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)

    def _scratch(self) -> Path:
        """A private folder for the bundles of redacted incidents: raw evidence is not kept beside a report
        that was asked to be redacted; it is removed when the batch ends."""
        import tempfile

        with self._lock:
            if self._scratch_dir is None:
                self._scratch_dir = Path(tempfile.mkdtemp(prefix="kit-batch-evidence-"))
            return self._scratch_dir

    def applies(self, params: InvestigationParameters) -> bool:
        """Whether this incident's evidence is collected here (live, no scenario)."""
        return self.enabled and params.source == "live" and not params.scenario

    def prepare(self, incident: Incident) -> InvestigationParameters:
        """Collect the incident's evidence into `<out_dir>/evidence` and return parameters reading it.

        Raises whatever collection raises (BadInput for a role that cannot be assumed, ...); the scheduler
        then lets the notebook collect on its own, so the incident's report shows the error.
        """
        from kit.collect.bundle import write_bundle
        from kit.collect.live import collect_live
        from kit.collect.options import collect_options

        params = incident.params
        if params is None or not self.applies(params):
            return params  # type: ignore[return-value]
        session = self._session(params)
        org_session = self._session(params, org=True) if params.org_role_arn else None
        options = collect_options(params)
        evidence = collect_live(options.instance_id, options.region, session=session, window=options.window,
                                cloudtrail_source=options.cloudtrail_source, org_session=org_session)
        folder = self._scratch() / incident.name if params.redact else incident.out_dir / EVIDENCE_FOLDER
        if folder.exists():
            _empty(folder)
        write_bundle(evidence, folder)
        with self._lock:
            self.collected += 1
        return replace(params, source=f"bundle:{folder.resolve()}", profile="", role_arn="", org_role_arn="")

    def stats(self) -> dict[str, Any]:
        """What sharing saved: incidents collected here, calls made, calls answered from another's call."""
        with self._lock:
            sessions = list(self._sessions.values())
            collected = self.collected
        totals = {"calls_made": 0, "calls_shared": 0, "lookup_pages_read": 0}
        for session in sessions:
            for name, value in session.shared.stats().items():
                totals[name] += value
        return {"enabled": self.enabled, "incidents_collected": collected, "credentials": len(sessions), **totals}

    def _session(self, params: InvestigationParameters, *, org: bool = False) -> SharingSession:
        """One sharing session per credentials (profile, role): the calls of one account are shared; `org`:
        the management account's (org_role_arn), whose SCP look-ups every incident of the outage shares."""
        from kit.collect.options import collect_options

        key = (params.profile, params.org_role_arn if org else params.role_arn)
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                options = collect_options(params)
                base = options.org_session(session_name="kit-batch-org") if org else \
                    options.session(session_name="kit-batch")
                session = self._sessions[key] = SharingSession(base)
            return session


def _empty(folder: Path) -> None:
    """Remove a previous run's bundle."""
    import shutil

    shutil.rmtree(folder)
