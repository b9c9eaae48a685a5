"""kit.report: headless runs of the investigation notebook and their reports.

- `kit.report.run.run_investigation`: papermill + nbconvert -> investigation.ipynb, findings.json, report.html
  (nbconvert template in `templates/kit_report`); `findings.schema.json` is findings.json's schema.
- `kit.report.investigate` / `kit.report.demo`: the `kit investigate` and `kit demo` commands.

What the notebook's cells call is `kit.notebook`; the HTML blocks and timeline picture are `kit.views`.
"""
