"""CloudTrail from an Amazon Athena table (`cloudtrail_source: athena:DATABASE.TABLE`), read-only.

One pinned, parameterized query per window: the SQL text is fixed (only the table's quoted name and the
predicates on the partition columns the table has are filled in), every value goes in as an Athena
ExecutionParameter, and the WHERE clause always bounds the partition columns (the day partition, and the
account and Region partitions where the table has them) so Athena reads only the window's files. The table's
partition columns come from GetTableMetadata; the workgroup's output location from GetWorkGroup when none is
given. The rows come back as CloudTrail records (the same shape as a log file's `Records`) and are stored with
the SQL, its parameters and the query execution id as `cloudtrail-athena/<query id>.json`; kit.frames reads
them like every other CloudTrail source.

The columns are those of AWS's documented CloudTrail table (and of `kit athena ddl`); struct columns are read
as JSON (`json_format(CAST(... AS JSON))`) and their lower-case field names mapped back to CloudTrail's.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from kit.collect.change_filter import ChangeFilter, ChangeMatch
from kit.collect.cloudtrail_window import TimeRange
from kit.collect.fetcher import Fetcher
from kit.collect.redact import redact_log
from kit.errors import BadInput
from kit.params import AthenaSource, parse_athena_source

DOCUMENT_PREFIX = "cloudtrail-athena/"
CATALOG = "AwsDataCatalog"
MAX_ROWS = 20_000          # rows read back per query; more becomes a gap (narrow the window)
PAGE_SIZE = 1000           # GetQueryResults' largest page
WAIT_SECONDS = 600.0       # how long to wait for a query to finish
DELIVERY_SLACK = timedelta(minutes=30)  # an event reaches the next day's folder up to ~15 minutes late
DAY_FORMAT = "yyyy/MM/dd"  # CloudTrail's date folders, as projection.<column>.format says them

# Table column -> CloudTrail record field (AWS's documented CloudTrail table; `kit athena ddl`)
RECORD_FIELDS: dict[str, str] = {
    "eventversion": "eventVersion", "useridentity": "userIdentity", "eventtime": "eventTime",
    "eventsource": "eventSource", "eventname": "eventName", "awsregion": "awsRegion",
    "sourceipaddress": "sourceIPAddress", "useragent": "userAgent", "errorcode": "errorCode",
    "errormessage": "errorMessage", "requestparameters": "requestParameters",
    "responseelements": "responseElements", "additionaleventdata": "additionalEventData",
    "requestid": "requestID", "eventid": "eventID", "readonly": "readOnly", "resources": "resources",
    "eventtype": "eventType", "apiversion": "apiVersion", "recipientaccountid": "recipientAccountId",
    "sharedeventid": "sharedEventID", "vpcendpointid": "vpcEndpointId",
}
STRUCT_COLUMNS = ("useridentity", "resources")     # read as JSON text
JSON_TEXT_COLUMNS = ("requestparameters", "responseelements", "additionaleventdata")  # JSON inside a string
# struct field names as Hive keeps them (lower case) -> CloudTrail's
STRUCT_FIELDS: dict[str, str] = {
    "principalid": "principalId", "accountid": "accountId", "invokedby": "invokedBy",
    "accesskeyid": "accessKeyId", "username": "userName", "sessioncontext": "sessionContext",
    "mfaauthenticated": "mfaAuthenticated", "creationdate": "creationDate", "sessionissuer": "sessionIssuer",
    "ec2roledelivery": "ec2RoleDelivery", "webidfederationdata": "webIdFederationData",
    "federatedprovider": "federatedProvider", "onbehalfof": "onBehalfOf", "userid": "userId",
    "identitystorearn": "identityStoreArn", "sourceidentity": "sourceIdentity",
}
# The struct columns' fields in the documented table's order: engines that cast a ROW to a JSON array (Presto,
# Athena engine 2, Trino with legacy_row_to_json_cast) give the values in this order
_SESSION_ISSUER = [("type", None), ("principalid", None), ("arn", None), ("accountid", None), ("username", None)]
USERIDENTITY_ORDER: list[tuple[str, Any]] = [
    ("type", None), ("principalid", None), ("arn", None), ("accountid", None), ("invokedby", None),
    ("accesskeyid", None), ("username", None), ("onbehalfof", [("userid", None), ("identitystorearn", None)]),
    ("sessioncontext", [("attributes", [("mfaauthenticated", None), ("creationdate", None)]),
                        ("sessionissuer", _SESSION_ISSUER), ("ec2roledelivery", None),
                        ("webidfederationdata", [("federatedprovider", None), ("attributes", None)])]),
]
RESOURCE_ORDER: list[tuple[str, Any]] = [("arn", None), ("accountid", None), ("type", None)]
_TIME_TOKENS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H"}
_TIME_COLUMNS = ("timestamp", "dt", "date", "day", "eventdate")
_ACCOUNT_COLUMNS = ("account", "account_id", "accountid")
_REGION_COLUMNS = ("region", "aws_region")
_IDENTIFIER = re.compile(r"^[a-z0-9_]{1,255}$")


@dataclass(frozen=True)
class TableLayout:
    """The table's partition columns the kit constrains: the day, the account, the Region."""

    time_column: str | None = "timestamp"
    time_format: str = DAY_FORMAT
    account_column: str | None = None
    region_column: str | None = None
    account_injected: bool = False  # projection.<account>.type=injected: every query must name its accounts

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> TableLayout:
        """The layout from GetTableMetadata's TableMetadata (PartitionKeys, Parameters)."""
        keys = [str(k.get("Name", "")).lower() for k in metadata.get("PartitionKeys") or []]
        parameters = {str(k).lower(): str(v) for k, v in (metadata.get("Parameters") or {}).items()}
        dated = [k for k in keys if parameters.get(f"projection.{k}.type") == "date"]
        named: list[str | None] = [*dated, *(k for k in keys if k in _TIME_COLUMNS)]
        time_column = (named or [None])[0]
        account_column = next((k for k in keys if k in _ACCOUNT_COLUMNS), None)
        return cls(time_column=time_column,
                   time_format=parameters.get(f"projection.{time_column}.format", DAY_FORMAT),
                   account_column=account_column,
                   region_column=next((k for k in keys if k in _REGION_COLUMNS), None),
                   account_injected=parameters.get(f"projection.{account_column}.type") == "injected")


@dataclass(frozen=True)
class AthenaQuery:
    """One query: the SQL text and its ExecutionParameters (SQL literals, in order of the `?`)."""

    sql: str
    parameters: tuple[str, ...]


@dataclass
class QueryRun:
    """A query as Athena ran it: its id, final state, bytes scanned and rows (the header row removed)."""

    query_execution_id: str
    state: str
    data_scanned_bytes: int | None
    records: list[dict[str, Any]] = field(default_factory=list)
    cut: bool = False


@dataclass(frozen=True)
class ScanEstimate:
    """What Athena would read for a window, from the partition predicates alone (no query run)."""

    queries: int
    partitions: int
    files: int
    bytes: int


def literal(value: str) -> str:
    """A string as an Athena ExecutionParameter (a quoted SQL literal)."""
    return "'" + value.replace("'", "''") + "'"


def day_partitions(window: TimeRange, time_format: str = DAY_FORMAT) -> tuple[str, str]:
    """The first and last day partition values that can hold events of `window`."""
    pattern = time_format
    for token, directive in _TIME_TOKENS.items():
        pattern = pattern.replace(token, directive)
    return window.start.strftime(pattern), (window.end + DELIVERY_SLACK).strftime(pattern)


def _columns() -> str:
    out = []
    for column in RECORD_FIELDS:
        out.append(f"json_format(CAST({column} AS JSON)) AS {column}" if column in STRUCT_COLUMNS else column)
    return ", ".join(out)


def _table(source: AthenaSource) -> str:
    for name in (source.database, source.table):
        if not _IDENTIFIER.match(name):
            raise BadInput("cloudtrail_source", "athena:DATABASE.TABLE with names of letters, digits and _", name)
    return f'"{source.database}"."{source.table}"'


def _partition_predicates(layout: TableLayout, window: TimeRange, accounts: Iterable[str],
                          regions: Iterable[str]) -> tuple[list[str], list[str]]:
    """WHERE conjuncts on the partition columns, and their parameters."""
    where: list[str] = []
    values: list[str] = []
    if layout.time_column:
        first, last = day_partitions(window, layout.time_format)
        where.append(f'"{layout.time_column}" BETWEEN ? AND ?')
        values += [literal(first), literal(last)]
    for column, wanted in ((layout.account_column, list(accounts)), (layout.region_column, list(regions))):
        if column and len(wanted) == 1:  # equality: what an injected projection takes everywhere
            where.append(f'"{column}" = ?')
            values.append(literal(wanted[0]))
        elif column and wanted:
            where.append(f'"{column}" IN ({", ".join("?" for _ in wanted)})')
            values += [literal(v) for v in wanted]
    return where, values


def _time_predicates(window: TimeRange) -> tuple[list[str], list[str]]:
    return ["eventtime >= ?", "eventtime <= ?"], [literal(_iso(window.start)), literal(_iso(window.end))]


def instance_query(source: AthenaSource, layout: TableLayout, window: TimeRange, *, instance_id: str,
                   region: str, account_id: str | None) -> AthenaQuery:
    """The investigation's query: in the window, the instance's Region and account, every event that names
    the instance, and the KMS events EC2 made on someone's behalf, refused, or that change a key."""
    where, values = _partition_predicates(layout, window, [account_id] if account_id else [], [region])
    more, more_values = _time_predicates(window)
    where += more + ["awsregion = ?"]
    values += more_values + [literal(region)]
    if account_id:
        where.append("recipientaccountid = ?")
        values.append(literal(account_id))
    where.append("(strpos(requestparameters, ?) > 0 OR strpos(responseelements, ?) > 0"
                 " OR strpos(additionaleventdata, ?) > 0 OR strpos(useridentity.arn, ?) > 0"
                 " OR (eventsource = 'kms.amazonaws.com' AND (useridentity.invokedby = 'ec2.amazonaws.com'"
                 " OR sourceipaddress = 'ec2.amazonaws.com' OR errorcode IS NOT NULL OR readonly = 'false')))")
    values += [literal(instance_id)] * 4
    sql = (f"SELECT {_columns()} FROM {_table(source)} WHERE " + " AND ".join(where)
           + " ORDER BY eventtime, eventid")
    return AthenaQuery(sql, tuple(values))


def launch_failures_query(source: AthenaSource, layout: TableLayout, window: TimeRange, *,
                          accounts: Iterable[str] = (), regions: Iterable[str] = ()) -> AthenaQuery:
    """`kit scan`'s query: across every account and Region of the table (or those given), the launch
    attempts (RunInstances, StartInstances) and EC2's KMS calls for a launcher that KMS refused."""
    where, values = _partition_predicates(layout, window, accounts, regions)
    more, more_values = _time_predicates(window)
    where += more
    values += more_values
    where.append("((eventsource = 'ec2.amazonaws.com' AND eventname IN ('RunInstances', 'StartInstances'))"
                 " OR (eventsource = 'kms.amazonaws.com' AND errorcode IS NOT NULL"
                 " AND (useridentity.invokedby = 'ec2.amazonaws.com' OR sourceipaddress = 'ec2.amazonaws.com'"
                 " OR useragent = 'ec2.amazonaws.com')))")
    sql = (f"SELECT {_columns()} FROM {_table(source)} WHERE " + " AND ".join(where)
           + " ORDER BY eventtime, eventid")
    return AthenaQuery(sql, tuple(values))


def changes_query(source: AthenaSource, layout: TableLayout, change: ChangeFilter) -> AthenaQuery:
    """The change look-back's query (kit.collect.change_filter): between the filter's times, the write events
    each match asks for (in its accounts and Regions, naming its value or of its event name). The partition
    predicates bound the days of the look-back and the accounts and Regions of every match."""
    window = TimeRange(_parse_iso(change.start), _parse_iso(change.end))
    accounts = change.accounts()
    if accounts is None and layout.account_injected:  # an injected projection must be named: the known ones
        accounts = tuple(sorted({a for m in change.matches for a in m.accounts}))
    where, values = _partition_predicates(layout, window, accounts or (), change.regions())
    where += ["eventtime >= ?", "eventtime <= ?", "coalesce(readonly, '') <> 'true'"]
    values += [literal(change.start), literal(change.end)]
    groups: dict[tuple[tuple[str, ...], tuple[str, ...], str | None], list[ChangeMatch]] = {}
    for match in change.matches:
        groups.setdefault((match.accounts, match.regions, match.event_source), []).append(match)
    clauses: list[str] = []
    for (accounts_of, regions_of, event_source), matches in groups.items():
        parts: list[str] = []
        if accounts_of:
            parts.append(f"recipientaccountid IN ({', '.join('?' for _ in accounts_of)})")
            values += [literal(a) for a in accounts_of]
        parts.append(f"awsregion IN ({', '.join('?' for _ in regions_of)})")
        values += [literal(r) for r in regions_of]
        if event_source:
            parts.append("eventsource = ?")
            values.append(literal(event_source))
        names = [m.event_name for m in matches if m.event_name]
        needles = [m.needle for m in matches if m.needle and not m.event_name]
        either: list[str] = []
        if names:
            either.append(f"eventname IN ({', '.join('?' for _ in names)})")
            values += [literal(n) for n in names]
        for needle in needles:
            either.append("strpos(requestparameters, ?) > 0 OR strpos(responseelements, ?) > 0")
            values += [literal(needle)] * 2
        clauses.append("(" + " AND ".join(parts) + " AND (" + " OR ".join(either) + "))")
    where.append("(" + " OR ".join(clauses or ["1 = 0"]) + ")")
    sql = (f"SELECT {_columns()} FROM {_table(source)} WHERE " + " AND ".join(where)
           + " ORDER BY eventtime, eventid")
    return AthenaQuery(sql, tuple(values))


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


# -- running a query -----------------------------------------------------------------------------------


class AthenaReader:
    """Runs the kit's queries on one Athena table through a Fetcher (guarded, recorded; errors are gaps)."""

    def __init__(self, fetch: Fetcher, source: AthenaSource, *, wait_seconds: float = WAIT_SECONDS,
                 max_rows: int = MAX_ROWS) -> None:
        self.fetch = fetch
        self.source = source
        self.wait_seconds = wait_seconds
        self.max_rows = max_rows
        self.region = source.region or fetch.region  # Athena's (and its catalog's) Region
        self._layout: TableLayout | None = None

    def layout(self) -> TableLayout:
        """The table's partition layout (GetTableMetadata; AWS's documented day-partitioned table if unreadable)."""
        if self._layout is None:
            answer = self.fetch.fetch(None, "athena", "GetTableMetadata",
                                      {"CatalogName": CATALOG, "DatabaseName": self.source.database,
                                       "TableName": self.source.table},
                                      target=f"{self.source.database}.{self.source.table}", region=self.region)
            metadata = (answer or {}).get("TableMetadata")
            self._layout = TableLayout.from_metadata(metadata) if isinstance(metadata, dict) else TableLayout()
        return self._layout

    def output_location(self) -> str | None:
        """Where results go: the source's `output=`, else the workgroup's own (None: a gap was recorded)."""
        if self.source.output_location:
            return self.source.output_location
        answer = self.fetch.fetch(None, "athena", "GetWorkGroup", {"WorkGroup": self.source.workgroup},
                                  target=self.source.workgroup, region=self.region)
        if answer is None:
            return None
        configuration = (answer.get("WorkGroup") or {}).get("Configuration") or {}
        location = (configuration.get("ResultConfiguration") or {}).get("OutputLocation")
        if not location:
            self.fetch.skip("athena", "StartQueryExecution", {"WorkGroup": self.source.workgroup},
                            error="NoOutputLocation", region=self.region,
                            impact=f"Athena workgroup {self.source.workgroup} has no query result location and "
                                   "none was given: no CloudTrail events were read (add ?output=s3://bucket/prefix/ "
                                   "to the athena: source)")
            return None
        return str(location)

    def run(self, query: AthenaQuery) -> QueryRun | None:
        """Start the query, wait for it, read every result page; None after recording a gap."""
        location = self.output_location()
        if location is None:
            return None
        params: dict[str, Any] = {
            "QueryString": query.sql, "WorkGroup": self.source.workgroup,
            "QueryExecutionContext": {"Catalog": CATALOG, "Database": self.source.database},
            "ResultConfiguration": {"OutputLocation": location},
        }
        if query.parameters:
            params["ExecutionParameters"] = list(query.parameters)
        started = self.fetch.fetch(None, "athena", "StartQueryExecution", params,
                                   target=f"{self.source.database}.{self.source.table}", region=self.region)
        query_id = (started or {}).get("QueryExecutionId")
        if not query_id:
            return None
        execution = self._wait(query_id)
        if execution is None:
            return None
        status = execution.get("Status") or {}
        state = str(status.get("State"))
        scanned = (execution.get("Statistics") or {}).get("DataScannedInBytes")
        if state != "SUCCEEDED":
            self.fetch.skip("athena", "GetQueryResults", {"QueryExecutionId": query_id},
                            error=f"Query{state.title()}", region=self.region,
                            impact=f"the Athena query {query_id} ended {state}: "
                                   f"{str(status.get('StateChangeReason') or 'no reason given')[:300]}; its CloudTrail "
                                   "events are missing")
            return None
        results = self.fetch.fetch(None, "athena", "GetQueryResults", {"QueryExecutionId": query_id},
                                   max_items=self.max_rows + 1, page_size=PAGE_SIZE, region=self.region)
        if results is None:
            return None
        rows = (results.get("ResultSet") or {}).get("Rows") or []
        columns = [c.get("Name", "") for c in ((results.get("ResultSet") or {}).get("ResultSetMetadata") or {})
                   .get("ColumnInfo") or []]
        records = records_from_rows(columns, rows)
        cut = bool(results.get("NextToken")) or len(records) > self.max_rows
        if cut:
            self.fetch.skip("athena", "GetQueryResults", {"QueryExecutionId": query_id},
                            error="RowLimitReached", region=self.region,
                            impact=f"the Athena query {query_id} returned more than {self.max_rows} events; only "
                                   f"the first {self.max_rows} were read (narrow the window)")
            records = records[:self.max_rows]
        return QueryRun(query_id, state, int(scanned) if isinstance(scanned, int) else None, records, cut)

    def _wait(self, query_id: str) -> dict[str, Any] | None:
        deadline = time.monotonic() + self.wait_seconds
        delay = 0.2
        while True:
            answer = self.fetch.fetch(None, "athena", "GetQueryExecution", {"QueryExecutionId": query_id},
                                      region=self.region)
            if answer is None:
                return None
            execution = answer.get("QueryExecution") or {}
            if (execution.get("Status") or {}).get("State") in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return dict(execution)
            if time.monotonic() > deadline:
                self.fetch.skip("athena", "GetQueryExecution", {"QueryExecutionId": query_id},
                                error="QueryTimeout", region=self.region,
                                impact=f"the Athena query {query_id} did not finish within {self.wait_seconds:.0f} s; "
                                       "its CloudTrail events are missing (the query was left running)")
                return None
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)


def store_run(fetch: Fetcher, source: AthenaSource, query: AthenaQuery, run: QueryRun, purpose: str) -> None:
    """Keep the rows with the SQL, its parameters and the query id as `cloudtrail-athena/<query id>.json`."""
    document = {"QueryExecutionId": run.query_execution_id, "Purpose": purpose,
                "Database": source.database, "Table": source.table, "WorkGroup": source.workgroup,
                "Query": query.sql, "ExecutionParameters": list(query.parameters), "State": run.state,
                "DataScannedInBytes": run.data_scanned_bytes, "Truncated": run.cut, "Records": run.records}
    redact_log(document)
    fetch.store(f"{DOCUMENT_PREFIX}{run.query_execution_id}.json", document)


def collect_athena(fetch: Fetcher, cloudtrail_source: str, *, instance_id: str, account_id: str | None,
                   region: str, window: TimeRange) -> list[dict[str, Any]]:
    """The investigation window's CloudTrail records from the Athena table (one query), stored in the evidence."""
    source = parse_athena_source(cloudtrail_source)
    reader = AthenaReader(fetch, source)
    query = instance_query(source, reader.layout(), window, instance_id=instance_id, region=region,
                           account_id=account_id)
    run = reader.run(query)
    if run is None:
        return []
    store_run(fetch, source, query, run, f"events of {instance_id} in {region}, {_iso(window.start)} to "
                                         f"{_iso(window.end)}")
    return run.records


def collect_athena_changes(fetch: Fetcher, cloudtrail_source: str, change: ChangeFilter) -> int:
    """The change look-back through the Athena table: one query, its rows stored (with the SQL, parameters,
    query id and bytes scanned) as `cloudtrail-athena/<query id>.json`. Returns the number of events kept."""
    source = parse_athena_source(cloudtrail_source)
    reader = AthenaReader(fetch, source)
    query = changes_query(source, reader.layout(), change)
    run = reader.run(query)
    if run is None:
        return 0
    store_run(fetch, source, query, run, f"the look-back for changes (contracts.md 3a), {change.start} to {change.end}")
    return len(run.records)


# -- rows to records -----------------------------------------------------------------------------------


def records_from_rows(columns: list[str], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GetQueryResults rows (header row first, as Athena answers a SELECT) as CloudTrail records."""
    names = [c.lower() for c in columns]
    out = []
    for index, row in enumerate(rows):
        values = [cell.get("VarCharValue") if isinstance(cell, dict) else None for cell in row.get("Data") or []]
        if index == 0 and [str(v).lower() for v in values] == names:
            continue  # the header row
        out.append(record_from_values(dict(zip(names, values))))
    return out


def record_from_values(values: dict[str, str | None]) -> dict[str, Any]:
    """One row's column values as a CloudTrail record (CloudTrail's field names; empty fields left out)."""
    record: dict[str, Any] = {}
    for column, value in values.items():
        name = RECORD_FIELDS.get(column)
        if name is None or value is None:
            continue
        if column in STRUCT_COLUMNS or column in JSON_TEXT_COLUMNS:
            try:
                decoded: Any = json.loads(value)
            except ValueError:
                decoded = value
            if column == "resources":
                decoded = ([_resource(_named(r, RESOURCE_ORDER)) for r in decoded] if isinstance(decoded, list)
                           else decoded)
            elif column in STRUCT_COLUMNS:
                decoded = _struct(_named(decoded, USERIDENTITY_ORDER))
            if decoded is None:
                continue
            record[name] = decoded
        elif column == "readonly":
            record[name] = value.lower() == "true" if value.lower() in ("true", "false") else value
        else:
            record[name] = value
    return record


def _named(value: Any, order: list[tuple[str, Any]]) -> Any:
    """A ROW cast to a JSON array (values in declared order) as the object Trino gives; objects unchanged."""
    if not isinstance(value, list) or len(value) != len(order):
        return value
    return {name: _named(item, inner) if inner else item for (name, inner), item in zip(order, value)}


def _struct(value: Any) -> Any:
    if isinstance(value, dict):
        out = {STRUCT_FIELDS.get(k, k): _struct(v) for k, v in value.items() if v is not None}
        return out or None
    return value


def _resource(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    names = {"arn": "ARN", "accountid": "accountId", "type": "type"}
    return {names.get(k, k): v for k, v in value.items() if v is not None}


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- what Athena would scan ----------------------------------------------------------------------------

_LOG_PATH = re.compile(r"AWSLogs/(?:o-[a-z0-9]{10,32}/)?(\d{12})/CloudTrail/([\w-]+)/(\d{4})/(\d{2})/(\d{2})/")


def scan_estimate(files: Iterable[tuple[str, int]], since: datetime, until: datetime, *,
                  accounts: Iterable[str] = (), regions: Iterable[str] = ()) -> ScanEstimate:
    """The query count and bytes Athena would scan for `kit scan` over [since, until] on a table laid out like
    `files` ((path or S3 key, size in bytes) of CloudTrail log files, single-account or organisation layout):
    Athena reads every file of each partition (account, Region, day) the query's partition predicates keep
    (the days of the window, the accounts and Regions given, or all), and nothing else. One query."""
    window = TimeRange(since, until)
    first, last = (date(*map(int, day.split("/"))) for day in day_partitions(window))
    wanted_accounts, wanted_regions = set(accounts), set(regions)
    partitions: set[tuple[str, str, date]] = set()
    count = total = 0
    for path, size in files:
        match = _LOG_PATH.search(path.replace("\\", "/"))
        if not match:
            continue
        account, region = match.group(1), match.group(2)
        day = date(int(match.group(3)), int(match.group(4)), int(match.group(5)))
        if not first <= day <= last or (wanted_accounts and account not in wanted_accounts) or (
                wanted_regions and region not in wanted_regions):
            continue
        partitions.add((account, region, day))
        count += 1
        total += int(size)
    return ScanEstimate(queries=1, partitions=len(partitions), files=count, bytes=total)
