"""A batch of investigations read as one postmortem: incidents grouped by the change that caused them (then by
cause), each group's blast radius and fix, exports for other tools, and the postmortem notebook's frames and
narrative.

- `kit.postmortem.groups`: summary entries -> groups (pure)
- `kit.postmortem.names`: short names of ARNs for tables (full ARN on hover)
- `kit.postmortem.batch`: a batch folder read back (summary.json + each findings.json) as pandas frames
- `kit.postmortem.exports`: incidents.csv (spreadsheet-safe) and timeline.jsonl (Timesketch)
- `kit.postmortem.narrative`: impact, trigger, detection, fix in words
- `kit.postmortem.run`: `kit postmortem DIR`: the notebook headless -> DIR/postmortem.html (no code)
"""
