"""Reaching the account from the notebook: the Region to use, the simulated account's fake credentials, and
what is missing, in words, when the instances cannot be listed.

With only AWS_ENDPOINT_URL set to the simulated account on this machine (127.0.0.1, `kit simulate`), the
notebook uses the simulated account's Region and its fake credentials, in this kernel's memory only (never
written anywhere, and never for any other endpoint). Everything else is the standard AWS configuration.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import urlparse

SIMULATED_REGION = "eu-west-1"  # kit.simulate.SimulatedAccount.environ's default: where its scenarios live
REGIONS = ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "sa-east-1", "eu-west-1", "eu-west-2",
           "eu-west-3", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "me-south-1",
           "me-central-1", "il-central-1", "af-south-1", "ap-east-1", "ap-south-1", "ap-south-2", "ap-northeast-1",
           "ap-northeast-2", "ap-northeast-3", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
           "ap-southeast-4")


@dataclass(frozen=True)
class AccountSetup:
    """What the notebook did to reach the account, for the analyst to read."""

    region: str
    region_origin: str  # "parameter", "AWS_REGION", "AWS_DEFAULT_REGION", "simulated account", or "" (none)
    simulated_credentials: bool  # the simulator's fake credentials were put into this kernel's environment

    def describe(self) -> str:
        """One sentence: the Region and where it came from, and whether fake credentials are in use."""
        if not self.region:
            return "No Region: choose one in the Region control (or set AWS_REGION before starting jupyter lab)."
        words = f"Region {self.region} (from {self.region_origin})"
        if self.simulated_credentials:
            words += "; the simulated account's fake credentials, for its endpoint on this machine only"
        return words + "."


def is_loopback(url: str) -> bool:
    """True when `url` names this machine (127.0.0.0/8, ::1, localhost): the simulated account, never AWS."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def simulated_endpoint() -> str:
    """AWS_ENDPOINT_URL when it names this machine (the simulated account), else ""."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    return endpoint if endpoint and is_loopback(endpoint) else ""


def prepare(region: str) -> AccountSetup:
    """The Region to use (the parameter, the standard configuration, or the simulated account's) and, for the
    simulated account on this machine without credentials, its fake credentials in this process's environment."""
    origin = "parameter" if region else ""
    if not region:
        for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if os.environ.get(name):
                region, origin = os.environ[name], name
                break
    simulated = bool(simulated_endpoint())
    if not region and simulated:
        region, origin = SIMULATED_REGION, "the simulated account"
    fake = False
    if simulated and not _has_credentials():
        from kit.simulate.clients import FAKE_KEY, FAKE_SECRET

        os.environ["AWS_ACCESS_KEY_ID"] = FAKE_KEY  # this kernel only; the simulated account accepts any
        os.environ["AWS_SECRET_ACCESS_KEY"] = FAKE_SECRET
        fake = True
    return AccountSetup(region=region, region_origin=origin, simulated_credentials=fake)


def _has_credentials() -> bool:
    """Credentials the standard chain would find without asking the instance metadata service (which, off
    EC2, only times out): environment variables, a profile, web identity, or the shared files."""
    if os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE") or os.environ.get(
            "AWS_WEB_IDENTITY_TOKEN_FILE") or os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return True
    home = os.path.expanduser("~")
    files = [os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or os.path.join(home, ".aws", "credentials"),
             os.environ.get("AWS_CONFIG_FILE") or os.path.join(home, ".aws", "config")]
    return any(os.path.isfile(path) and os.path.getsize(path) > 0 for path in files)


def explain_listing_error(exc: BaseException, region: str) -> str:
    """Why the instances could not be listed, in words, with what to do (never a bare exception name)."""
    name = type(exc).__name__
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "")
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    if name == "NoCredentialsError":
        return ("No AWS credentials were found, so the instances cannot be listed. Against AWS: set AWS_PROFILE "
                "(or log in with `aws sso login`) before starting jupyter lab. For the simulated account: paste "
                "the export lines `kit simulate` prints into the shell that starts jupyter lab.")
    if name == "NoRegionError" or not region:
        return "No Region is set: choose one in the Region control above."
    if name in {"EndpointConnectionError", "ConnectionClosedError", "ConnectTimeoutError", "ReadTimeoutError"}:
        where = endpoint or f"the EC2 endpoint of {region}"
        hint = (" Is `kit simulate` still running? Its address changes each time it starts: paste its export "
                "lines again." if endpoint and is_loopback(endpoint) else " Check the network and the Region.")
        return f"Nothing answered at {where}.{hint}"
    if code in {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"}:
        return (f"The credentials in use may not call ec2:DescribeInstances in {region} ({code}). Type the "
                "instance id instead, or use a profile or role that may describe instances.")
    if code in {"AuthFailure", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException",
                "UnrecognizedClientException", "SignatureDoesNotMatch"}:
        return (f"AWS refused the credentials ({code}): they are expired or not for this account. Refresh them "
                "(for example `aws sso login`) and change the Region control to list again.")
    if name == "ProfileNotFound" or "profile" in str(exc).lower() and name == "BadInput":
        return f"The AWS profile is not in the AWS config files: {exc}"
    return f"The instances in {region} could not be listed ({name}: {exc}). Type the instance id instead."
