"""The failure report of an incident that could not be investigated at all (no notebook ran).

A cell that raises is reported by kit.report.run (the executed notebook with a failure banner); this page
is for what happens before that: a parameter file that cannot be used, a kernel that does not start.
"""

from __future__ import annotations

from pathlib import Path

from kit.report.files import write_text_atomically
from kit.redact import redact_text

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Investigation failed: {title}</title>
<style>body {{ font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 24px; }}
.kit-banner {{ background: #fff8e1; border-left: 8px solid #f9a825; border-radius: 6px; padding: 14px 18px; }}
pre {{ background: #f6f8fa; border: 1px solid #d0d7de; padding: 8px; white-space: pre-wrap; }}</style></head>
<body><div class="kit-banner" data-status="failed"><h2>The investigation did not run</h2>
<p>Parameter file: <code>{params_file}</code></p><p><b>{error_name}</b>: {error_value}</p>
<p>Fix the cause and run <code>kit batch</code> again for this file; the other incidents are not affected.</p>
</div>{detail}</body></html>
"""


def write_failure_report(out_dir: Path, params_file: str, error_name: str, error_value: str,
                         detail: str | None = None, *, redact: bool = False) -> Path:
    """Write `report.html` saying why the incident could not be investigated (every text redacted when the
    incident asked for it); returns its path."""
    from kit.views.html import text  # (pandas: imported when a report is written, not before a batch starts)

    if redact:
        params_file, error_value = redact_text(params_file), redact_text(error_value)
        detail = redact_text(detail) if detail else detail
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    escaped = {name: text(value) for name, value in
               {"title": params_file, "params_file": params_file, "error_name": error_name,
                "error_value": error_value}.items()}
    extra = f"<pre>{text(detail)}</pre>" if detail else ""
    return write_text_atomically(path, PAGE.format(detail=extra, **escaped))
