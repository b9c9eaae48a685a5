"""CloudTrail LookupEvents (moto has none): answered from the world's trail, optionally throttled."""

from __future__ import annotations

from typing import Any

from kit.simulate.extensions.context import Context, Handler
from kit.simulate.trail import LookupRefused
from kit.simulate.wire import BadRequest, Request, Response, error_response, json_response
from kit.simulate.world import world


def lookup_events(request: Request, context: Context) -> Response:
    """LookupEvents: ThrottlingException beyond the bucket, the trail's answer, or its refusal."""
    account, region = request.account, request.region
    if context.throttled(account, region):
        return error_response("json", "ThrottlingException", "Rate exceeded")
    try:
        return json_response(look_up(account, region, request.json()))
    except LookupRefused as exc:
        raise BadRequest(exc.code, exc.message) from None


HANDLERS: dict[str, Handler] = {"LookupEvents": lookup_events}


# ---- world -------------------------------------------------------------------------------------------------

def look_up(account: str, region: str, query: dict[str, Any]) -> dict[str, Any]:
    """The trail's events of that account and Region matching a LookupEvents query (LookupRefused if AWS
    would refuse it)."""
    return world().trail.lookup(account, region, query)
