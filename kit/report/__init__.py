"""kit.report: the investigation notebook's views, headless runs and their reports.

- `kit.report.session.Investigation`: what the notebook's cells call (static HTML headless, live sections
  interactive).
- `kit.report.run.run_investigation`: papermill + nbconvert -> investigation.ipynb, findings.json, report.html.
- `kit.report.html`, `kit.report.timeline`: escaped HTML blocks and the timeline picture.
- `kit.report.investigate` / `kit.report.demo`: the `kit investigate` and `kit demo` commands.
"""
