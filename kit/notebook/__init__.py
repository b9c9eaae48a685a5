"""kit.widgets: the investigation notebook's interactive controls (ipywidgets), seeded from its parameters."""
