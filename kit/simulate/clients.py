"""boto3 clients on the simulator that act in a chosen account (moto's x-moto-account-id header)."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

FAKE_KEY = "AKIAIOSFODNN7EXAMPLE"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOME_REGION = "eu-west-1"


class Clients:
    """`clients("iam", account, region)`: a cached client on the simulator at `endpoint_url`."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str, str], Any] = {}

    def __call__(self, service: str, account: str, region: str = HOME_REGION) -> Any:
        cache_key = (service, account, region)
        if cache_key not in self._clients:
            client = _session().client(service, region_name=region, endpoint_url=self.endpoint_url,
                                       config=Config(retries={"max_attempts": 1}))

            def add_account(request: Any, **_: Any) -> None:
                request.headers["x-moto-account-id"] = account

            client.meta.events.register("before-sign", add_account)
            self._clients[cache_key] = client
        return self._clients[cache_key]


@cache
def _session() -> boto3.session.Session:
    """One boto3 session for the process (service models load once)."""
    return boto3.session.Session(aws_access_key_id=FAKE_KEY, aws_secret_access_key=FAKE_SECRET)
