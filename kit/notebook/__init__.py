"""kit.notebook: what the investigation notebook's cells call.

- `kit.notebook.investigation.Investigation`: one investigation's state (parameters, evidence, frames,
  findings) and the views its cells show (static HTML headless, live sections interactive).
- The notebook's interactive controls (ipywidgets, seeded from its parameters): `controls`
  (instance picker, CloudTrail window, volume/key chooser), `what_if` (policy editor), `live` (re-rendering
  Output widgets), `instances` (the picker's table of failed launches).
"""
