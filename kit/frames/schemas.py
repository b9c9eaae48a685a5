"""Frame column schemas (kit/frames/schemas.json): build typed frames from rows, and validate them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping

import pandas as pd

from kit.errors import KitError
from kit.frames.timestamps import DTYPE as DATETIME_DTYPE
from kit.frames.timestamps import utc_series

SUPPORTED_DTYPES = ("string", "boolean", "Int64", "float64", DATETIME_DTYPE, "object")


class FrameSchemaError(KitError):
    """A frame does not match its schema in kit/frames/schemas.json (a bug in kit.frames, not bad input)."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    description: str


@dataclass(frozen=True)
class FrameSchema:
    name: str
    description: str
    sort_by: tuple[str, ...]
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


@lru_cache(maxsize=1)
def load_schemas() -> dict[str, FrameSchema]:
    """Every frame's schema, by frame name, in the order schemas.json lists them."""
    text = resources.files("kit.frames").joinpath("schemas.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    out: dict[str, FrameSchema] = {}
    for name, spec in raw["frames"].items():
        columns = tuple(Column(c["name"], c["dtype"], c["description"]) for c in spec["columns"])
        for column in columns:
            if column.dtype not in SUPPORTED_DTYPES:
                raise FrameSchemaError(f"schemas.json: {name}.{column.name} has unknown dtype {column.dtype!r}")
        out[name] = FrameSchema(name, spec["description"], tuple(spec["sort_by"]), columns)
    return out


def frame_from_rows(name: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A frame with exactly the schema's columns and dtypes, sorted by its sort keys, index 0..n-1.

    Keys of a row that the schema does not name are a bug (FrameSchemaError); missing keys are missing values.
    """
    schema = load_schemas()[name]
    rows = list(rows)
    names = set(schema.names)
    for row in rows:
        extra = set(row) - names
        if extra:
            raise FrameSchemaError(f"{name}: row has columns the schema does not define: {sorted(extra)}")
    data = {c.name: _series([row.get(c.name) for row in rows], c.dtype) for c in schema.columns}
    frame = pd.DataFrame(data, columns=schema.names)
    if len(frame) and schema.sort_by:
        frame = frame.sort_values(list(schema.sort_by), na_position="last", kind="stable")
    return frame.reset_index(drop=True)


def validate_frame(name: str, frame: pd.DataFrame) -> None:
    """Raise FrameSchemaError unless `frame` has the schema's columns, in order, with its dtypes."""
    schema = load_schemas()[name]
    if list(frame.columns) != schema.names:
        raise FrameSchemaError(f"{name}: columns {list(frame.columns)} != schema {schema.names}")
    for column in schema.columns:
        actual = str(frame[column.name].dtype)
        if actual != column.dtype:
            raise FrameSchemaError(f"{name}.{column.name}: dtype {actual} != schema {column.dtype}")
        if column.dtype == "object":
            bad = [v for v in frame[column.name] if v is not None and not isinstance(v, (dict, list))]
            if bad:
                raise FrameSchemaError(f"{name}.{column.name}: object column holds {type(bad[0]).__name__}")


def empty_frame(name: str) -> pd.DataFrame:
    """A typed frame with no rows."""
    return frame_from_rows(name, [])


def _series(values: list[Any], dtype: str) -> pd.Series:
    if dtype == DATETIME_DTYPE:
        return utc_series(values)
    if dtype == "object":  # each value as is (a list stays one value): item by item into an object array
        array = pd.Series([None] * len(values), dtype=object).to_numpy(copy=True)
        for i, value in enumerate(values):
            array[i] = value
        return pd.Series(array, dtype=object)
    if dtype == "string":
        return pd.Series([None if v is None else str(v) for v in values], dtype="string")
    if dtype == "boolean":
        return pd.Series([_bool(v) for v in values], dtype="boolean")
    if dtype == "Int64":
        return pd.Series([_int(v) for v in values], dtype="Int64")
    if dtype == "float64":
        return pd.Series([float("nan") if v is None else float(v) for v in values], dtype="float64")
    raise FrameSchemaError(f"unknown dtype {dtype!r}")


def _bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        return None
    return bool(value)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
