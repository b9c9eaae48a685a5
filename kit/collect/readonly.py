"""The read-only guard: a client made by the kit refuses every operation outside an explicit allow-list.

The allow-list is data (`readonly_operations.json`). The guard is a botocore event handler on
`provide-client-params` (the first event of every API call, before parameters are validated or a request
is built) and again on `before-call` (after serialisation, just before sending), so a refused operation
never reaches the network. Operations that run SQL (`select` in the allow-list: Athena's StartQueryExecution)
pass only with exactly one SELECT statement (`check_select`, parsed with sqlglot's Athena dialect) and
ExecutionParameters that are plain literals.
"""

from __future__ import annotations

import json
import re
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
    sections = ["read", "select", "credentials"] if credentials else ["read", "select"]
    return frozenset(
        f"{service}:{operation}"
        for section in sections
        for service, operations in data[section].items()
        for operation in operations
    )


def select_operations() -> frozenset[str]:
    """`service:Operation` names allowed only with one SELECT statement (athena:StartQueryExecution)."""
    return frozenset(f"{service}:{operation}" for service, operations in _allow_list_data()["select"].items()
                     for operation in operations)


# A plain SQL literal: a quoted string ('' escapes a quote), a number, true/false/null.
_LITERAL = re.compile(r"^(?:'(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|false|null)$", re.IGNORECASE)


def check_select(sql: Any, parameters: Any = None) -> None:
    """Raise ReadOnlyViolation unless `sql` is exactly one SELECT (with its WITH, UNION, subqueries) that
    contains no other statement kind, and every execution parameter is a plain literal."""
    import sqlglot
    from sqlglot import expressions as exp

    if not isinstance(sql, str) or not sql.strip():
        raise ReadOnlyViolation("StartQueryExecution without a SQL statement; the request was not sent")
    try:
        statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as err:
        raise ReadOnlyViolation(f"the SQL could not be read as one SELECT ({str(err)[:200]}); "
                                "the request was not sent") from None
    if len(statements) != 1:
        raise ReadOnlyViolation(f"{len(statements)} SQL statements where one SELECT is allowed; "
                                "the request was not sent")
    statement = statements[0]
    if not isinstance(statement, (exp.Select, exp.SetOperation)):
        raise ReadOnlyViolation(f"a {statement.key.upper()} statement is not a read: only SELECT is allowed "
                                "(kit.collect.readonly.check_select); the request was not sent")
    forbidden = tuple(getattr(exp, name) for name in _STATEMENT_KINDS if hasattr(exp, name))
    for node in statement.walk():
        if isinstance(node, forbidden):
            raise ReadOnlyViolation(f"the SELECT holds {node.key.upper()}, which is not a read; "
                                    "the request was not sent")
    for value in parameters or []:
        if not isinstance(value, str) or not _LITERAL.match(value.strip()):
            raise ReadOnlyViolation(f"execution parameter {value!r} is not a plain SQL literal; "
                                    "the request was not sent")


# sqlglot expression kinds that are statements of their own (anything but a query), refused anywhere in a SELECT
_STATEMENT_KINDS = ("DDL", "DML", "Command", "Create", "Drop", "Alter", "Insert", "Update", "Delete", "Merge",
                    "Into", "Use", "Transaction", "Commit", "Rollback", "Set", "Pragma", "Copy", "Analyze",
                    "Describe", "Grant", "Revoke", "Cache", "Uncache", "LoadData", "Refresh", "TruncateTable")


def _check_sql_request(name: str, params: Any) -> None:
    """For an operation that runs SQL: its statement and parameters, from the call's parameters (before
    serialisation) or the serialised JSON body (just before sending)."""
    if name not in select_operations():
        return
    values = params if isinstance(params, dict) else {}
    if "body" in values and "QueryString" not in values:
        body = values.get("body") or b"{}"
        try:
            values = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
        except ValueError:
            raise ReadOnlyViolation(f"{name} with a body that is not JSON; the request was not sent") from None
    check_select(values.get("QueryString"), values.get("ExecutionParameters"))


def operation_name(model: Any) -> str:
    """`service:Operation` for a botocore OperationModel (the service's botocore name, e.g. `kms`)."""
    return f"{model.service_model.service_name}:{model.name}"


def refuse_unlisted_operation(model: Any, params: Any = None, **_: Any) -> None:
    """Event handler: raise ReadOnlyViolation for an operation outside the read allow-list (and for SQL that
    is not one SELECT)."""
    name = operation_name(model)
    if name not in allowed_operations():
        raise ReadOnlyViolation(
            f"{name} is not a read operation on the kit's allow-list "
            f"(kit/collect/{ALLOW_LIST_FILE}); the request was not sent"
        )
    _check_sql_request(name, params)


def install_guard(client: Any, *, credentials: bool = False) -> Any:
    """Make `client` refuse every operation outside the allow-list; returns the client."""
    allowed = allowed_operations(credentials=credentials)

    def refuse_unlisted(model: Any, params: Any = None, **_: Any) -> None:
        name = operation_name(model)
        if name not in allowed:
            raise ReadOnlyViolation(
                f"{name} is not a read operation on the kit's allow-list "
                f"(kit/collect/{ALLOW_LIST_FILE}); the request was not sent"
            )
        _check_sql_request(name, params)

    # Registered first, so they run before any other handler of these events (the call recorder).
    client.meta.events.register_first("provide-client-params", refuse_unlisted,
                                      unique_id="kit-readonly-guard-params")
    client.meta.events.register_first("before-call", refuse_unlisted, unique_id="kit-readonly-guard-call")
    return client
