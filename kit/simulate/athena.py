"""The simulated Athena's engine: a table registry and a query runner over the simulated S3 buckets.

What it is: the real API flow (StartQueryExecution, GetQueryExecution, GetQueryResults, GetTableMetadata;
extensions/athena.py) in front of a small engine that
- accepts `CREATE EXTERNAL TABLE` (Hive DDL, as `kit athena ddl` prints it and AWS documents the CloudTrail
  table: columns, PARTITIONED BY, LOCATION, TBLPROPERTIES with `storage.location.template`) into a registry,
  the one statement other than SELECT it runs;
- runs a SELECT by transpiling it from Athena's (Trino) dialect to DuckDB with sqlglot, `?` replaced by the
  ExecutionParameters (each one SQL literal, as Athena takes them). The files under the table's location are
  matched against the location template to get their partition values; the WHERE conjuncts that use only
  partition columns prune the files before any is read (what partition projection does), and only the kept
  files are counted in DataScannedInBytes. Each kept CloudTrail file (gzipped JSON with `Records`) becomes
  rows with the declared column types (Hive's JsonSerDe rules: field names case-insensitive, objects in a
  STRING column kept as JSON text, undeclared fields dropped).
What it is not: Athena. Only what sqlglot translates and DuckDB runs works (the kit's queries, and ordinary
SELECTs over the CloudTrail table); no Glue catalog, no other DDL, no query cost, no result reuse, results are
kept in memory (nothing is written to the output location), and a query finishes before
StartQueryExecution answers.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

_SIMPLE_TYPES = {"STRING": "VARCHAR", "VARCHAR": "VARCHAR", "CHAR": "VARCHAR", "INT": "INTEGER",
                 "INTEGER": "INTEGER", "BIGINT": "BIGINT", "SMALLINT": "SMALLINT", "TINYINT": "TINYINT",
                 "BOOLEAN": "BOOLEAN", "DOUBLE": "DOUBLE", "FLOAT": "FLOAT", "DATE": "DATE",
                 "TIMESTAMP": "TIMESTAMP", "DECIMAL": "DOUBLE"}


class QueryFailed(Exception):
    """The query cannot run; the message is the StateChangeReason Athena would give."""


@dataclass
class Table:
    """A table created with CREATE EXTERNAL TABLE."""

    database: str
    name: str
    columns: list[tuple[str, Any]]          # (name, sqlglot DataType)
    partition_keys: list[str]
    location: str
    properties: dict[str, str]
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def template(self) -> str:
        """Where a partition's files are: `storage.location.template`, else LOCATION plus `col=value/` folders."""
        found = self.properties.get("storage.location.template")
        if found:
            return found
        return self.location.rstrip("/") + "".join(f"/{k}=${{{k}}}" for k in self.partition_keys)

    def metadata(self) -> dict[str, Any]:
        """GetTableMetadata's TableMetadata."""
        return {"Name": self.name, "CreateTime": self.created.timestamp(), "TableType": "EXTERNAL_TABLE",
                "Columns": [{"Name": n, "Type": t.sql("hive").lower()} for n, t in self.columns],
                "PartitionKeys": [{"Name": k, "Type": "string"} for k in self.partition_keys],
                "Parameters": {"EXTERNAL": "TRUE", "location": self.location, **self.properties}}


@dataclass
class Result:
    """A finished query: columns (name, Athena type), rows of strings (None for NULL), bytes read."""

    columns: list[tuple[str, str]]
    rows: list[list[str | None]]
    scanned_bytes: int
    statement_type: str = "DML"


@dataclass
class Execution:
    """One StartQueryExecution."""

    query_id: str
    query: str
    database: str
    workgroup: str
    output_location: str
    parameters: list[str]
    submitted: datetime
    state: str = "SUCCEEDED"
    reason: str = ""
    result: Result | None = None
    completed: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


class AthenaWorld:
    """Tables and executions per (account, Region), process-wide like the rest of the simulated world."""

    def __init__(self) -> None:
        self.tables: dict[tuple[str, str, str, str], Table] = {}
        self.executions: dict[tuple[str, str, str], Execution] = {}
        self.lock = threading.RLock()

    def start(self, account: str, region: str, query: str, database: str, workgroup: str, output: str,
              parameters: list[str]) -> Execution:
        """Run `query` now and keep its execution (FAILED with a reason when it cannot run)."""
        execution = Execution(str(uuid.uuid4()), query, database, workgroup, output, list(parameters),
                              datetime.now(timezone.utc))
        try:
            execution.result = self._run(account, region, query, database, parameters)
        except QueryFailed as failed:
            execution.state, execution.reason = "FAILED", str(failed)
        execution.completed = datetime.now(timezone.utc)
        with self.lock:
            self.executions[(account, region, execution.query_id)] = execution
        return execution

    def execution(self, account: str, region: str, query_id: str) -> Execution | None:
        with self.lock:
            return self.executions.get((account, region, query_id))

    def table(self, account: str, region: str, database: str, name: str) -> Table | None:
        with self.lock:
            return self.tables.get((account, region, database.lower(), name.lower()))

    def _run(self, account: str, region: str, query: str, database: str, parameters: list[str]) -> Result:
        import sqlglot
        from sqlglot import expressions as exp

        text = bind_parameters(query, parameters)
        if re.match(r"^\s*CREATE\s+EXTERNAL\s+TABLE\b", text, re.IGNORECASE):
            table = parse_table(text, database)
            with self.lock:
                self.tables.setdefault((account, region, table.database, table.name), table)
            return Result([], [], 0, "DDL")
        try:
            statements = [s for s in sqlglot.parse(text, read="athena") if s is not None]
        except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as err:
            raise QueryFailed(f"line 1:1: mismatched input: {str(err)[:300]}") from None
        if len(statements) != 1 or not isinstance(statements[0], (exp.Select, exp.SetOperation)):
            raise QueryFailed("NOT_SUPPORTED: the simulated Athena runs SELECT statements and CREATE EXTERNAL "
                              "TABLE only")
        return self._select(account, region, statements[0], database)

    def _select(self, account: str, region: str, statement: Any, database: str) -> Result:
        import duckdb
        from sqlglot import expressions as exp

        ctes = {c.alias_or_name.lower() for c in statement.find_all(exp.CTE)}
        tables: dict[tuple[str, str], Table] = {}
        for ref in statement.find_all(exp.Table):
            if not ref.args.get("db") and ref.name.lower() in ctes:
                continue
            db = (ref.args["db"].name if ref.args.get("db") else database).lower()
            found = self.table(account, region, db, ref.name)
            if found is None:
                raise QueryFailed(f"TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.{db}.{ref.name.lower()}' "
                                  "does not exist")
            ref.set("db", exp.to_identifier(found.database, quoted=True))
            ref.set("this", exp.to_identifier(found.name, quoted=True))
            ref.set("catalog", None)
            tables[(found.database, found.name)] = found
        connection = duckdb.connect()
        scanned = 0
        with tempfile.TemporaryDirectory(prefix="kit-athena-") as folder:
            try:
                for table in tables.values():
                    scanned += _load(connection, table, _partition_filter(statement, table), folder)
                sql = statement.sql(dialect="duckdb")
                cursor = connection.execute(sql)
                rows = cursor.fetchall()
                columns = [(d[0], _athena_type(str(d[1]))) for d in cursor.description or []]
            except duckdb.Error as err:
                raise QueryFailed(f"GENERIC_USER_ERROR: {str(err).splitlines()[0][:300]}") from None
            finally:
                connection.close()
        return Result(columns, [[_text(v) for v in row] for row in rows], scanned)


_athena_world: AthenaWorld | None = None
_athena_lock = threading.Lock()


def athena_world() -> AthenaWorld:
    """The process's simulated Athena (created on first use)."""
    global _athena_world
    with _athena_lock:
        if _athena_world is None:
            _athena_world = AthenaWorld()
        return _athena_world


# -- SQL -------------------------------------------------------------------------------------------------


def bind_parameters(query: str, parameters: list[str]) -> str:
    """`query` with each `?` (outside strings and comments) replaced by the next parameter, as Athena does;
    QueryFailed when the counts differ or a parameter is not one literal."""
    from sqlglot.tokens import TokenType
    from sqlglot.dialects.athena import Athena

    try:
        tokens = Athena().tokenize(query)
    except Exception as err:  # noqa: BLE001 - sqlglot's tokenizer errors vary by version
        raise QueryFailed(f"line 1:1: {str(err)[:300]}") from None
    places = [t for t in tokens if t.token_type == TokenType.PLACEHOLDER and t.text == "?"]
    if len(places) != len(parameters):
        raise QueryFailed(f"INVALID_PARAMETER_USAGE: the query has {len(places)} parameters and "
                          f"{len(parameters)} values were given")
    for value in parameters:
        if not re.match(r"^\s*(?:'(?:[^']|'')*'|-?\d+(?:\.\d+)?|true|false|null)\s*$", value, re.IGNORECASE):
            raise QueryFailed(f"INVALID_PARAMETER_USAGE: {value[:100]!r} is not a literal")
    out, last = [], 0
    for token, value in zip(places, parameters):
        out += [query[last:token.start], value.strip()]
        last = token.end + 1
    return "".join(out) + query[last:]


def parse_table(ddl: str, database: str) -> Table:
    """A CREATE EXTERNAL TABLE statement (Hive DDL) as a Table; QueryFailed when it is not one."""
    import sqlglot
    from sqlglot import expressions as exp

    try:
        create = sqlglot.parse_one(ddl, read="hive")
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as err:
        raise QueryFailed(f"line 1:1: {str(err)[:300]}") from None
    if not isinstance(create, exp.Create) or not isinstance(create.this, exp.Schema):
        raise QueryFailed("the simulated Athena reads CREATE EXTERNAL TABLE name (columns) ... only")
    target = create.this.this
    columns = [(c.name.lower(), c.args["kind"]) for c in create.this.expressions if isinstance(c, exp.ColumnDef)]
    properties: dict[str, str] = {}
    partition_keys: list[str] = []
    location = ""
    for prop in (create.args.get("properties") or exp.Properties()).expressions:
        if isinstance(prop, exp.PartitionedByProperty):
            partition_keys = [c.name.lower() for c in prop.this.expressions]
        elif isinstance(prop, exp.LocationProperty):
            location = prop.this.name
        elif type(prop) is exp.Property:  # noqa: E721 - its subclasses are the other clauses
            properties[prop.name.lower()] = prop.args["value"].name
    if not location.startswith("s3://"):
        raise QueryFailed("LOCATION must be an s3:// location")
    db = (target.args["db"].name if target.args.get("db") else database).lower()
    return Table(db, target.name.lower(), columns, partition_keys, location, properties)


def _partition_filter(statement: Any, table: Table) -> str | None:
    """The WHERE conjuncts that use only `table`'s partition columns, in DuckDB SQL (None: keep every file)."""
    from sqlglot import expressions as exp

    where = statement.args.get("where")
    if where is None or not table.partition_keys:
        return None
    keep = []
    for conjunct in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        names = {c.name.lower() for c in conjunct.find_all(exp.Column)}
        if names and names <= set(table.partition_keys) and not list(conjunct.find_all(exp.Subquery)):
            keep.append(conjunct.transform(lambda n: exp.column(n.name, quoted=True) if isinstance(n, exp.Column)
                                           else n).sql(dialect="duckdb"))
    return " AND ".join(f"({k})" for k in keep) or None


# -- files to rows ---------------------------------------------------------------------------------------


def _template_pattern(template: str, keys: list[str], properties: dict[str, str]) -> re.Pattern[str]:
    """A regex for the template's paths: a date column by its projection format (yyyy/MM/dd), others one folder."""
    parts = re.split(r"(\$\{[A-Za-z0-9_]+\})", template)
    regex = ""
    for part in parts:
        name = re.fullmatch(r"\$\{([A-Za-z0-9_]+)\}", part)
        if name and name.group(1).lower() in keys:
            key = name.group(1).lower()
            value = "[^/]+"
            if properties.get(f"projection.{key}.type") == "date":
                value = re.escape(properties.get(f"projection.{key}.format", "yyyy/MM/dd"))
                for token, digits in (("yyyy", r"\d{4}"), ("MM", r"\d{2}"), ("dd", r"\d{2}"), ("HH", r"\d{2}")):
                    value = value.replace(token, digits)
            regex += f"(?P<{key}>{value})"
        else:
            regex += re.escape(part)
    return re.compile("^" + regex + "/")


def _load(connection: Any, table: Table, partition_filter: str | None, folder: str) -> int:
    """Create `table` in DuckDB from its files the partition filter keeps; returns the bytes read."""
    from kit.simulate import moto_state

    bucket, _, prefix = table.location[len("s3://"):].partition("/")
    pattern = _template_pattern(table.template(), table.partition_keys, table.properties)
    candidates = []
    for key, size, read in moto_state.s3_objects(bucket, prefix) or []:
        match = pattern.match(f"s3://{bucket}/{key}")
        if match and key.endswith((".json", ".json.gz")):
            candidates.append((key, size, read, {k: match.group(k) for k in table.partition_keys}))
    if partition_filter and candidates:
        values = ", ".join("(" + ", ".join([str(i)] + [_quote(c[3][k]) for k in table.partition_keys]) + ")"
                           for i, c in enumerate(candidates))
        names = ", ".join(["_i"] + [f'"{k}"' for k in table.partition_keys])
        kept = {row[0] for row in connection.execute(
            f"SELECT _i FROM (VALUES {values}) AS files({names}) WHERE {partition_filter}").fetchall()}
        candidates = [c for i, c in enumerate(candidates) if i in kept]
    path = os.path.join(folder, f"{table.database}.{table.name}.json")
    scanned = 0
    with open(path, "w", encoding="utf-8") as out:
        for _, size, read, partition in candidates:
            scanned += size
            for record in _records(read()):
                row = {name: _project(_field(record, name), kind) for name, kind in table.columns}
                row.update(partition)
                out.write(json.dumps(row) + "\n")
    types = {name: kind.sql("duckdb") for name, kind in table.columns}
    types.update({k: "VARCHAR" for k in table.partition_keys})
    connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{table.database}"')
    columns = "{" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in types.items()) + "}"
    connection.execute(f'CREATE TABLE "{table.database}"."{table.name}" AS SELECT * FROM '
                       f"read_json({_quote(path)}, format='newline_delimited', columns={columns})")
    return scanned


def _records(data: bytes) -> list[dict[str, Any]]:
    try:
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        document = json.loads(data)
    except (OSError, ValueError):
        return []  # Athena's CloudTrail reader skips what is not a log file
    records = document.get("Records") if isinstance(document, dict) else None
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


def _field(value: dict[str, Any], name: str) -> Any:
    """A field by its lower-case name (Hive's JsonSerDe matches field names case-insensitively)."""
    if name in value:
        return value[name]
    for key, item in value.items():
        if key.lower() == name:
            return item
    return None


def _project(value: Any, kind: Any) -> Any:
    """`value` shaped as the declared type: struct fields kept as declared, objects in strings as JSON text."""
    from sqlglot import expressions as exp

    if value is None:
        return None
    if kind.this == exp.DataType.Type.STRUCT:
        if not isinstance(value, dict):
            return None
        return {f.name.lower(): _project(_field(value, f.name.lower()), f.args["kind"]) for f in kind.expressions}
    if kind.this == exp.DataType.Type.ARRAY:
        inner = kind.expressions[0]
        return [_project(v, inner) for v in value] if isinstance(value, list) else None
    if kind.this == exp.DataType.Type.MAP:
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()} \
            if isinstance(value, dict) else None
    if kind.this in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.CHAR):
        if isinstance(value, (dict, list)):
            return json.dumps(value, separators=(",", ":"))
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
    return value


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _athena_type(duckdb_type: str) -> str:
    upper = duckdb_type.upper()
    for prefix, name in (("VARCHAR", "varchar"), ("BIGINT", "bigint"), ("INTEGER", "integer"),
                         ("BOOLEAN", "boolean"), ("DOUBLE", "double"), ("TIMESTAMP", "timestamp"),
                         ("DATE", "date"), ("STRUCT", "row"), ("MAP", "map"), ("JSON", "json")):
        if upper.startswith(prefix):
            return name
    return "array" if upper.endswith("[]") else upper.lower()


def _text(value: Any) -> str | None:
    """A value as GetQueryResults' VarCharValue (Athena's rendering of rows and arrays: {a=1}, [x, y])."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_text(v) if v is not None else 'null'}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(v) or "null" for v in value) + "]"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return str(value)
