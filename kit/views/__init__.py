"""kit.views: pure rendering, from findings and frames to markup (no kernel, no widgets, no AWS).

- `kit.views.html`: escaped HTML blocks of the report (verdict banner, steps, gaps, remediation, tables),
  `text` escaping, `failure_block` and the report's stylesheet (`report.css`).
- `kit.views.timeline`: the findings' timeline frame as points, and the timeline picture (PNG).

Used by the notebook (`kit.notebook`), headless runs (`kit.report`) and batch pages (`kit.batch`).
"""
