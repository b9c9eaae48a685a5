"""Shared fixtures: the simulated AWS account, seeded once per test session (per xdist worker)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest


AWSCLI_DATA = "AWS_DATA_PATH"  # awscli sets it once, when imported: an environment reset must keep it


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

    for name in [n for n in os.environ if n.startswith("AWS_") and n != AWSCLI_DATA]:
        monkeypatch.delenv(name)
    env = sim.environ()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture(scope="module")
def aws_env(sim: "SimulatedAccount") -> Iterator[dict[str, str]]:  # noqa: F821
    """The process environment pointed at the simulated account for a whole module, restored afterwards
    (AWS_DATA_PATH kept: awscli sets it once, at import, and an in-process AWS CLI needs it)."""
    import os

    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_") and k != AWSCLI_DATA}
    for name in saved:
        del os.environ[name]
    os.environ.update(sim.environ())
    yield dict(os.environ)
    for name in [n for n in os.environ if n.startswith("AWS_") and n != AWSCLI_DATA]:
        del os.environ[name]
    os.environ.update(saved)


@pytest.fixture(scope="session")
def sim_client(sim: "SimulatedAccount"):  # noqa: F821
    """`sim_client("ec2", region="eu-west-1", **config)`: a boto3 client on the simulated account (cached)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id=sim.environ()["AWS_ACCESS_KEY_ID"],
                                    aws_secret_access_key=sim.environ()["AWS_SECRET_ACCESS_KEY"])
    clients: dict[tuple, object] = {}

    def make(service: str, region: str = "eu-west-1", **config: object):
        key = (service, region, repr(sorted(config.items())))
        if key not in clients:
            clients[key] = session.client(service, region_name=region, endpoint_url=sim.endpoint_url,
                                          config=Config(**config) if config else None)
        return clients[key]

    return make


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright driver for the whole test process: its sync API allows only one at a time, and both the
    browser suite (tests/browser) and the batch index test drive Chromium from the same xdist worker."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def stalled_endpoint() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte (stops with the test)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.5)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:  # timeout: look at `stop` again
                continue
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        server.close()
