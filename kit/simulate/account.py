"""SimulatedAccount: the simulated AWS account the kit is pointed at through AWS_ENDPOINT_URL."""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import TracebackType

from kit.simulate.catalogue import scenario_named, spread
from kit.simulate.clients import FAKE_KEY, FAKE_SECRET
from kit.simulate.seeder import SeededScenario, Seeder


class SimulatedAccount:
    """moto's server on 127.0.0.1 plus the kit's extensions, seeded with catalogue scenarios.

    `with SimulatedAccount(scenarios=["seed"]) as sim:` starts the server on `port` (0: a free one), seeds
    each scenario in order, and stops the server on exit. The simulated world (moto's backends, the trail)
    belongs to the process: a second SimulatedAccount in the same process serves the same world.
    """

    def __init__(self, scenarios: Iterable[str] = (), port: int = 0, throttle: bool = False) -> None:
        self.scenario_names = list(scenarios)
        self.port = port
        self.throttle = throttle
        self.seeded: list[SeededScenario] = []
        self._server: object | None = None
        self._seeder: Seeder | None = None
        self.endpoint_url = ""

    def __enter__(self) -> SimulatedAccount:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> SimulatedAccount:
        """Start the server and seed the scenarios (unknown names are BadInput before anything starts)."""
        scenarios = [scenario_named(name) for name in self.scenario_names]
        from kit.simulate.server import SimulatorServer

        server = SimulatorServer(port=self.port, throttle=self.throttle)
        server.start()
        self._server = server
        host, port = server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        self._seeder = Seeder(self.endpoint_url)
        try:
            for scenario in scenarios:
                self.seeded.append(self._seeder.seed(scenario))
                for place in spread(scenario):  # the same failure in other accounts and Regions
                    self.seeded.append(self._seeder.seed(scenario, region=place["region"], account_id=place["account"]))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (pending StartInstances replays are cancelled)."""
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None

    def seed(self, name: str, region: str | None = None, account_id: str | None = None) -> SeededScenario:
        """Seed one more instance of scenario `name` (into another Region or account if given)."""
        if self._seeder is None:
            raise RuntimeError("SimulatedAccount is not started")
        seeded = self._seeder.seed(scenario_named(name), region=region, account_id=account_id)
        self.seeded.append(seeded)
        return seeded

    def environ(self, region: str = "eu-west-1") -> dict[str, str]:
        """Environment variables that point boto3 and the AWS CLI at this account."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": FAKE_KEY,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET,
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def scenario(self, name: str) -> SeededScenario:
        """The first seeded instance of scenario `name`."""
        for seeded in self.seeded:
            if seeded.name == name:
                return seeded
        raise KeyError(name)

    @staticmethod
    def process_environ_without_aws() -> dict[str, str]:
        """os.environ minus AWS_* variables (for subprocesses that get environ() added on top)."""
        return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
