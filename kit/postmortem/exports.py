"""Exports of a batch for the tools teams already use: `incidents.csv` (one row per incident, safe to open
in a spreadsheet) and `timeline.jsonl` (one event per line, as Timesketch imports it).

CSV: every cell is quoted, and a cell that starts with a character a spreadsheet reads as a formula (`=`,
`+`, `-`, `@`, tab, carriage return, NUL: OWASP's CSV injection list and ASVS 1.2.10) gets a leading `'`,
which spreadsheets read as "text". Tags and CloudTrail fields are attacker-controlled.

JSONL: Timesketch's mandatory fields `message`, `datetime` (ISO 8601) and `timestamp_desc`, plus
`timestamp` (microseconds since the epoch) and the event's own fields.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd

from kit.postmortem.batch import Batch
from kit.report.files import write_text_atomically

CSV_FILE = "incidents.csv"
JSONL_FILE = "timeline.jsonl"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
TIMESTAMP_DESC = {"change": "Change made", "launch": "Launch request", "kms": "KMS call by EC2",
                  "state": "Instance state", "other": "Event"}


def spreadsheet_safe(value: Any) -> str:
    """A cell as text a spreadsheet shows and never evaluates: missing -> '', a formula start -> leading '."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        text = value.isoformat().replace("+00:00", "Z")
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def incidents_csv(batch: Batch) -> str:
    """incidents.csv as text: a header, then one row per incident (the incidents frame's columns)."""
    frame = batch.incidents_frame()
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([spreadsheet_safe(c) for c in frame.columns])
    for row in frame.itertuples(index=False):
        writer.writerow([spreadsheet_safe(v) for v in row])
    return buffer.getvalue()


def timeline_jsonl(batch: Batch) -> str:
    """timeline.jsonl as text: one JSON object per event, oldest first."""
    lines = []
    for row in batch.events_frame().to_dict("records"):
        time: pd.Timestamp = row["time"]
        event = {
            "message": str(row.get("label") or row.get("event_name") or ""),
            "datetime": time.isoformat(),
            "timestamp": int(time.value // 1000),
            "timestamp_desc": TIMESTAMP_DESC.get(str(row.get("kind")), "Event"),
        }
        for name in ("kind", "event_name", "error_code", "incident", "instance_id", "account_id", "region",
                     "principal_arn", "event_id"):
            value = row.get(name)
            if value is not None and not (isinstance(value, float) and pd.isna(value)):
                event[name] = value
        lines.append(json.dumps(event, ensure_ascii=False, default=str))
    return "".join(line + "\n" for line in lines)


def write_exports(batch: Batch) -> list[Path]:
    """Write incidents.csv and timeline.jsonl into the batch folder (atomically); their paths."""
    return [write_text_atomically(batch.folder / CSV_FILE, incidents_csv(batch)),
            write_text_atomically(batch.folder / JSONL_FILE, timeline_jsonl(batch))]
