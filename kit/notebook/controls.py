"""The notebook's controls: pick the instance, adjust the CloudTrail window, choose a volume or key.

Seeded from the parameters. Changing a control re-runs the investigation (`Investigation.analyse`), which
re-renders every live section below; the volume/key choice re-renders its own detail view. Errors (an
invalid instance id, an unreadable account) are shown in the status line, escaped, never raised into the
widget callback.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from kit.errors import KitError
from kit.notebook.live import LiveSection
from kit.views import html as blocks

if TYPE_CHECKING:
    from kit.notebook.investigation import Investigation

WINDOW_MAX_MINUTES = 24 * 60


class InvestigationControls:
    """Instance picker, CloudTrail window sliders and the volume/key chooser of one investigation."""

    def __init__(self, investigation: Investigation, failed: pd.DataFrame | None = None) -> None:
        self.investigation = investigation
        params = investigation.params
        self.failed = failed if failed is not None else self._load_failed()
        self.instance_table = widgets.HTML(value=self._failed_table())
        self.instance_picker = widgets.Dropdown(description="Instance", options=self._instance_options(),
                                                value=params.instance_id or None,
                                                layout=widgets.Layout(width="520px"))
        self.instance_id = widgets.Text(description="or type", placeholder="i-0123456789abcdef0",
                                        layout=widgets.Layout(width="360px"))
        self.investigate_button = widgets.Button(description="Investigate", button_style="primary")
        self.window_before = widgets.IntSlider(description="before (min)", value=params.window_before_minutes,
                                               min=0, max=max(WINDOW_MAX_MINUTES, params.window_before_minutes),
                                               step=5, continuous_update=False)
        self.window_after = widgets.IntSlider(description="after (min)", value=params.window_after_minutes,
                                              min=0, max=max(WINDOW_MAX_MINUTES, params.window_after_minutes),
                                              step=5, continuous_update=False)
        self.resource_picker = widgets.Dropdown(description="Volume/key", options=self._resource_options(),
                                                layout=widgets.Layout(width="620px"))
        self.status = widgets.HTML(value="")
        self.resource_view = LiveSection(self._render_resource, "resource")
        self.resource_view.refresh()
        self.instance_picker.observe(self._on_instance, names="value")
        self.investigate_button.on_click(self._on_typed_instance)
        self.window_before.observe(self._on_window, names="value")
        self.window_after.observe(self._on_window, names="value")
        self.resource_picker.observe(lambda _change: self.resource_view.refresh(), names="value")
        investigation.listeners.append(self._after_analyse)

    def widget(self) -> widgets.Widget:
        """Everything in one box, for `display`."""
        return widgets.VBox([
            widgets.HTML("<b>Instances that failed to launch</b>"), self.instance_table,
            widgets.HBox([self.instance_picker, self.instance_id, self.investigate_button]),
            widgets.HTML("<b>CloudTrail window around the incident</b>"),
            widgets.HBox([self.window_before, self.window_after]),
            self.resource_picker, self.resource_view.output, self.status,
        ])

    # -- callbacks ----------------------------------------------------------------------------------------

    def _on_instance(self, change: dict[str, Any]) -> None:
        if change["new"] and change["new"] != self.investigation.params.instance_id:
            self._run(lambda: self.investigation.analyse(instance_id=change["new"]))

    def _on_typed_instance(self, _button: Any) -> None:
        typed = self.instance_id.value.strip()
        if typed:
            self._run(lambda: self.investigation.analyse(instance_id=typed))

    def _on_window(self, _change: dict[str, Any]) -> None:
        if not self.investigation.params.instance_id:
            return
        self._run(lambda: self.investigation.analyse(window_before_minutes=self.window_before.value,
                                                     window_after_minutes=self.window_after.value))

    def _run(self, action: Any) -> None:
        self.status.value = '<span class="kit-muted">Investigating...</span>'
        try:
            action()
        except KitError as exc:
            self.status.value = f'<span style="color:#b71c1c">{html.escape(str(exc))}</span>'
            return
        p = self.investigation.params
        self.status.value = html.escape(f"Investigated {p.instance_id} in {p.region} "
                                        f"(window {p.window_before_minutes}/{p.window_after_minutes} min).")

    def _after_analyse(self) -> None:
        options = self._resource_options()
        self.resource_picker.options = options
        self.resource_view.refresh()

    # -- content ------------------------------------------------------------------------------------------

    def _load_failed(self) -> pd.DataFrame:
        p = self.investigation.params
        if p.source != "live" or not p.region:
            return pd.DataFrame()
        from kit.notebook.instances import failed_instances

        try:
            return failed_instances(p.region, profile=p.profile, role_arn=p.role_arn)
        except Exception as exc:  # no permission to list: the analyst can still type an id
            return pd.DataFrame([{"note": f"could not list instances: {type(exc).__name__}: {exc}"}])

    def _failed_table(self) -> str:
        return blocks.stylesheet() + blocks.frame_table(self.investigation.view(self.failed),
                                                        caption="", max_rows=50)

    def _instance_options(self) -> list[tuple[str, str]]:
        options = []
        if "instance_id" in self.failed.columns:
            for row in self.failed.itertuples(index=False):
                label = f"{row.instance_id}  {row.name}  {row.state_reason}".strip()
                options.append((self.investigation.text(label), str(row.instance_id)))
        current = self.investigation.params.instance_id
        if current and current not in {value for _, value in options}:
            options.insert(0, (current, current))
        return options

    def _resource_options(self) -> list[tuple[str, str]]:
        frames = self.investigation.frames
        if frames is None:
            return []
        options: list[tuple[str, str]] = []
        volumes = frames.volumes
        if len(volumes):
            mine = volumes[volumes["instance_id"] == self.investigation.params.instance_id]
            for row in (mine if len(mine) else volumes).itertuples(index=False):
                key = row.key_arn if isinstance(row.key_arn, str) else "not encrypted"
                options.append((self.investigation.text(f"volume {row.volume_id} ({key})"), f"volume:{row.volume_id}"))
        for row in frames.keys.itertuples(index=False):
            options.append((self.investigation.text(f"key {row.key_arn} ({row.key_manager}, {row.key_state})"),
                            f"key:{row.key_arn}"))
        return options

    def _render_resource(self) -> str:
        choice = self.resource_picker.value if hasattr(self, "resource_picker") else None
        frames = self.investigation.frames
        if not choice or frames is None:
            return '<p class="kit-muted">Choose a volume or key to see its details.</p>'
        kind, _, ident = choice.partition(":")
        view = self.investigation.view
        parts = [blocks.stylesheet(), '<div class="kit-report">']
        if kind == "volume":
            volume = frames.volumes[frames.volumes["volume_id"] == ident]
            parts.append(blocks.frame_table(view(volume), caption=f"Volume {ident}"))
            key_arns = [k for k in volume["key_arn"].dropna().unique()]
        else:
            key_arns = [ident]
        for key_arn in key_arns:
            parts.append(blocks.frame_table(view(frames.keys[frames.keys["key_arn"] == key_arn]).drop(
                columns=["policy"], errors="ignore"), caption="Key"))
            statements = frames.key_policy_statements
            parts.append(blocks.frame_table(view(statements[statements["key_arn"] == key_arn]).drop(
                columns=["statement"], errors="ignore"), caption="Key policy statements"))
            grants = frames.grants
            parts.append(blocks.frame_table(view(grants[grants["key_arn"] == key_arn]), caption="Grants"))
        parts.append("</div>")
        return "".join(parts)
