"""Athena queries that run (moto's Athena never executes SQL): StartQueryExecution, GetQueryExecution,
GetQueryResults and GetTableMetadata answered by the simulated engine (kit.simulate.athena: DuckDB over the
simulated trail buckets); workgroups and everything else stay moto's."""

from __future__ import annotations

import base64
import json
from typing import Any

from kit.simulate import moto_state
from kit.simulate.athena import Execution, athena_world
from kit.simulate.extensions.context import Context, Handler
from kit.simulate.wire import BadRequest, Request, Response, json_response

MAX_RESULTS = 1000


def start_query_execution(request: Request, context: Context) -> Response:
    """StartQueryExecution: runs the query at once; its id, whatever the outcome (as Athena answers)."""
    body = request.json()
    query = body.get("QueryString")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("InvalidRequestException", "QueryString is required")
    workgroup = str(body.get("WorkGroup") or "primary")
    configuration = moto_state.athena_workgroup(request.account, request.region, workgroup)
    if configuration is None:
        raise BadRequest("InvalidRequestException", f"WorkGroup {workgroup} is not found.")
    output = ((body.get("ResultConfiguration") or {}).get("OutputLocation")
              or (configuration.get("ResultConfiguration") or {}).get("OutputLocation") or "")
    if not output:
        raise BadRequest("InvalidRequestException",
                         "No output location provided. An output location is required either through the Workgroup "
                         "result configuration setting or as an API input.")
    parameters = body.get("ExecutionParameters") or []
    if not isinstance(parameters, list) or not all(isinstance(p, str) for p in parameters):
        raise BadRequest("InvalidRequestException", "ExecutionParameters must be a list of strings")
    database = str((body.get("QueryExecutionContext") or {}).get("Database") or "default")
    execution = athena_world().start(request.account, request.region, query, database, workgroup, output,
                                     parameters)
    return json_response({"QueryExecutionId": execution.query_id})


def get_query_execution(request: Request, context: Context) -> Response:
    """GetQueryExecution: the execution's final state and statistics."""
    return json_response({"QueryExecution": execution_document(_execution(request))})


def get_query_results(request: Request, context: Context) -> Response:
    """GetQueryResults: header row first (for a SELECT), MaxResults rows a page, NextToken to go on."""
    body = request.json()
    execution = _execution(request)
    if execution.state != "SUCCEEDED" or execution.result is None:
        raise BadRequest("InvalidRequestException", f"Query has not yet finished. Current state: {execution.state}")
    limit = body.get("MaxResults", MAX_RESULTS)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_RESULTS:
        raise BadRequest("InvalidRequestException", f"MaxResults must be between 1 and {MAX_RESULTS}")
    return json_response(results_page(execution, limit, body.get("NextToken")))


def get_table_metadata(request: Request, context: Context) -> Response:
    """GetTableMetadata: a table created through the simulated Athena."""
    body = request.json()
    table = athena_world().table(request.account, request.region, str(body.get("DatabaseName") or ""),
                                 str(body.get("TableName") or ""))
    if table is None:
        raise BadRequest("MetadataException", f"Table {body.get('TableName')} not found in database "
                                              f"{body.get('DatabaseName')}")
    return json_response({"TableMetadata": table.metadata()})


HANDLERS: dict[str, Handler] = {
    "StartQueryExecution": start_query_execution,
    "GetQueryExecution": get_query_execution,
    "GetQueryResults": get_query_results,
    "GetTableMetadata": get_table_metadata,
}


# ---- world -------------------------------------------------------------------------------------------------

def _execution(request: Request) -> Execution:
    query_id = request.json().get("QueryExecutionId")
    execution = athena_world().execution(request.account, request.region, str(query_id or ""))
    if execution is None:
        raise BadRequest("InvalidRequestException", f"QueryExecution {query_id} was not found")
    return execution


def execution_document(execution: Execution) -> dict[str, Any]:
    """An execution as GetQueryExecution's QueryExecution."""
    result = execution.result
    status: dict[str, Any] = {"State": execution.state, "SubmissionDateTime": execution.submitted.timestamp(),
                              "CompletionDateTime": execution.completed.timestamp()}
    if execution.reason:
        status["StateChangeReason"] = execution.reason
    millis = int((execution.completed - execution.submitted).total_seconds() * 1000)
    document: dict[str, Any] = {
        "QueryExecutionId": execution.query_id, "Query": execution.query,
        "StatementType": result.statement_type if result else "DML",
        "ResultConfiguration": {"OutputLocation": f"{execution.output_location.rstrip('/')}/"
                                                  f"{execution.query_id}.csv"},
        "QueryExecutionContext": {"Database": execution.database, "Catalog": "AwsDataCatalog"},
        "Status": status,
        "Statistics": {"EngineExecutionTimeInMillis": millis, "TotalExecutionTimeInMillis": millis,
                       "DataScannedInBytes": result.scanned_bytes if result else 0},
        "WorkGroup": execution.workgroup,
        "EngineVersion": {"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"},
    }
    if execution.parameters:
        document["ExecutionParameters"] = execution.parameters
    return document


def results_page(execution: Execution, limit: int, token: Any) -> dict[str, Any]:
    """One page of GetQueryResults."""
    result = execution.result
    assert result is not None
    rows: list[list[str | None]] = []
    if result.statement_type == "DML":
        rows = [[name for name, _ in result.columns], *result.rows]
    start = _decode(token, execution.query_id) if token else 0
    page = rows[start:start + limit]
    answer: dict[str, Any] = {
        "UpdateCount": 0,
        "ResultSet": {
            "Rows": [{"Data": [{"VarCharValue": v} if v is not None else {} for v in row]} for row in page],
            "ResultSetMetadata": {"ColumnInfo": [
                {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name,
                 "Type": kind, "Precision": 2147483647 if kind == "varchar" else 0, "Scale": 0,
                 "Nullable": "UNKNOWN", "CaseSensitive": kind == "varchar"} for name, kind in result.columns]},
        },
    }
    if start + limit < len(rows):
        answer["NextToken"] = base64.urlsafe_b64encode(
            json.dumps([execution.query_id, start + limit]).encode()).decode()
    return answer


def _decode(token: Any, query_id: str) -> int:
    try:
        bound, offset = json.loads(base64.urlsafe_b64decode(str(token).encode()))
    except (ValueError, TypeError):
        raise BadRequest("InvalidRequestException", "Invalid NextToken") from None
    if bound != query_id or not isinstance(offset, int) or offset < 0:
        raise BadRequest("InvalidRequestException", "Invalid NextToken")
    return offset
