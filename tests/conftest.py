"""Shared fixtures: the simulated AWS account, seeded once per test session (per xdist worker)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def sim() -> Iterator["SimulatedAccount"]:  # noqa: F821
    """The simulated account on 127.0.0.1 with every catalogue scenario seeded once (see `sim.seeded`)."""
    from kit.simulate import SimulatedAccount, load_catalogue

    with SimulatedAccount(scenarios=[s.name for s in load_catalogue()]) as account:
        yield account


@pytest.fixture
def sim_env(sim: "SimulatedAccount", monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # noqa: F821
    """Point this test's process environment (boto3, subprocesses) at the simulated account."""
    import os

    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    env = sim.environ()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
