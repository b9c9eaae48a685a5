"""The dispatch table: which extension module answers which service's operations.

Keys are the service as botocore signs it (the SigV4 credential scope: `ec2`, `kms`, ...); values are the
module's `HANDLERS`, operation (X-Amz-Target's last part, or the query protocols' Action) -> handler. A call
whose service or operation is not here goes to moto untouched. A new extension is a new module in
kit/simulate/extensions/ and one line here.
"""

from __future__ import annotations

from collections.abc import Mapping

from kit.simulate.extensions import athena, autoscaling, cloudtrail, ec2, kms, organizations
from kit.simulate.extensions.context import Handler

EXTENSIONS: Mapping[str, Mapping[str, Handler]] = {
    "athena": athena.HANDLERS,
    "cloudtrail": cloudtrail.HANDLERS,
    "ec2": ec2.HANDLERS,
    "autoscaling": autoscaling.HANDLERS,
    "kms": kms.HANDLERS,
    "organizations": organizations.HANDLERS,
}


def extends(service: str) -> bool:
    """Whether any extension answers operations of `service` (only then is the request body read)."""
    return service in EXTENSIONS


def handler_for(service: str, operation: str) -> Handler | None:
    """The handler of that service's operation, None if moto answers it unchanged."""
    return EXTENSIONS.get(service, {}).get(operation)
