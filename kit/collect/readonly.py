"""The read-only guard: a client made by the kit refuses every operation outside an explicit allow-list.

The allow-list is data (`readonly_operations.json`). The guard is a botocore event handler on
`provide-client-params` (the first event of every API call, before parameters are validated or a request
is built) and again on `before-call` (after serialisation, just before sending), so a refused operation
never reaches the network.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from kit.errors import ReadOnlyViolation

ALLOW_LIST_FILE = "readonly_operations.json"


@lru_cache(maxsize=1)
def _allow_list_data() -> dict[str, Any]:
    text = resources.files("kit.collect").joinpath(ALLOW_LIST_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def allowed_operations(*, credentials: bool = False) -> frozenset[str]:
    """`service:Operation` names the guard lets through (botocore names, e.g. `kms:DescribeKey`).

    `credentials=True` adds the operations that only obtain credentials (sts:AssumeRole).
    """
    data = _allow_list_data()
    sections = ["read", "credentials"] if credentials else ["read"]
    return frozenset(
        f"{service}:{operation}"
        for section in sections
        for service, operations in data[section].items()
        for operation in operations
    )


def operation_name(model: Any) -> str:
    """`service:Operation` for a botocore OperationModel (the service's botocore name, e.g. `kms`)."""
    return f"{model.service_model.service_name}:{model.name}"


def refuse_unlisted_operation(model: Any, **_: Any) -> None:
    """Event handler: raise ReadOnlyViolation for an operation outside the read allow-list."""
    name = operation_name(model)
    if name not in allowed_operations():
        raise ReadOnlyViolation(
            f"{name} is not a read operation on the kit's allow-list "
            f"(kit/collect/{ALLOW_LIST_FILE}); the request was not sent"
        )


def install_guard(client: Any, *, credentials: bool = False) -> Any:
    """Make `client` refuse every operation outside the allow-list; returns the client."""
    allowed = allowed_operations(credentials=credentials)

    def refuse_unlisted(model: Any, **_: Any) -> None:
        name = operation_name(model)
        if name not in allowed:
            raise ReadOnlyViolation(
                f"{name} is not a read operation on the kit's allow-list "
                f"(kit/collect/{ALLOW_LIST_FILE}); the request was not sent"
            )

    # Registered first, so they run before any other handler of these events (the call recorder).
    client.meta.events.register_first("provide-client-params", refuse_unlisted,
                                      unique_id="kit-readonly-guard-params")
    client.meta.events.register_first("before-call", refuse_unlisted, unique_id="kit-readonly-guard-call")
    return client
