"""The notebook's controls: Region, instance (picker, typed id, or a click on the failed-instances table), the
CloudTrail window (presets, minutes, and its absolute UTC bounds), the organization's management-account role
(where SCP changes are recorded), and the volume/key chooser; the verdict summary sits beside them, so after a
pick the analyst reads the cause without scrolling.

Seeded from the parameters. Changing a control re-runs the investigation (`Investigation.analyse`, which
reuses evidence already collected for the same inputs), which re-renders every live section below. Errors (an
invalid instance id, an unreadable account) are shown in the status line, escaped, never raised into the
widget callback; when the instances cannot be listed, the notebook says in words what is missing.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd

from kit.errors import KitError
from kit.notebook.live import FULL_WIDTH, LiveSection
from kit.notebook.summary import style, verdict_summary
from kit.views import html as blocks

if TYPE_CHECKING:
    from kit.notebook.investigation import Investigation

WINDOW_MAX_MINUTES = 7 * 24 * 60
WINDOW_PRESETS = (("±15 min", 15), ("±1 h", 60), ("±6 h", 360), ("±1 day", 1440))  # minutes before = after
TABLE_ROWS = 50  # failed instances shown in the clickable table (newest first); the picker lists them all
TABLE_COLUMNS = ("instance_id", "name", "state_reason", "launch_time", "instance_type")
ORG_ROLE_PLACEHOLDER = "arn:aws:iam::111122223333:role/OrgReader"  # as kit.params names the example
ORG_ROLE_HINT = ("SCP changes (AttachPolicy, DetachPolicy, UpdatePolicy) are recorded only in the organization's "
                 "management account: a read-only role there lets the verdict name them (empty: not read).")


class InvestigationControls:
    """Region, instance, CloudTrail window, management-account role and volume/key controls, with the verdict
    summary beside them."""

    def __init__(self, investigation: Investigation, failed: pd.DataFrame | None = None) -> None:
        self.investigation = investigation
        params = investigation.params
        self.listing_problem = ""  # why the instances could not be listed, in words ("" when they were)
        self.failed = failed if failed is not None else self._load_failed()
        self.region = widgets.Dropdown(description="Region", options=self._region_options(params.region),
                                       value=params.region or None, layout=widgets.Layout(width=FULL_WIDTH))
        self.instance_picker = widgets.Dropdown(description="Instance", options=self._instance_options(),
                                                value=params.instance_id or None,
                                                layout=widgets.Layout(width=FULL_WIDTH))
        self.instance_id = widgets.Text(description="or type", placeholder="i-0123456789abcdef0",
                                        layout=widgets.Layout(flex="1 1 auto", width="auto"))
        self.investigate_button = widgets.Button(description="Investigate", button_style="primary",
                                                 layout=widgets.Layout(width="110px"))
        self.presets = [widgets.Button(description=label, tooltip=f"CloudTrail from {m} min before to {m} min after",
                                       layout=widgets.Layout(width="auto", flex="1 1 auto"))
                        for label, m in WINDOW_PRESETS]
        self.window_before = widgets.BoundedIntText(description="before (min)", value=params.window_before_minutes,
                                                    min=0, max=max(WINDOW_MAX_MINUTES, params.window_before_minutes),
                                                    step=5, style={"description_width": "initial"},
                                                    layout=widgets.Layout(width="calc(50% - 4px)"))
        self.window_after = widgets.BoundedIntText(description="after (min)", value=params.window_after_minutes,
                                                   min=0, max=max(WINDOW_MAX_MINUTES, params.window_after_minutes),
                                                   step=5, style={"description_width": "initial"},
                                                    layout=widgets.Layout(width="calc(50% - 4px)"))
        self.window_bounds = widgets.HTML(value="")
        self.org_role = widgets.Text(description="Org role", value=params.org_role_arn, placeholder=ORG_ROLE_PLACEHOLDER,
                                     tooltip=ORG_ROLE_HINT, continuous_update=False,  # on Enter or leaving the field
                                     layout=widgets.Layout(width=FULL_WIDTH))
        self.org_role.disabled = params.source != "live"  # a bundle or CLI folder holds what it holds
        # why the role typed is not used, in words (else empty)
        self.org_role_error = widgets.HTML(value="", layout=widgets.Layout(width=FULL_WIDTH))
        setup = investigation.account_setup
        self.status = widgets.HTML(value=html.escape(setup.describe()) if setup is not None else "")
        self.summary = LiveSection(self._render_summary, "summary")
        self.instance_table = widgets.VBox(layout=widgets.Layout(max_height="300px", overflow="hidden auto",
                                                                 width=FULL_WIDTH))
        self.table_buttons: dict[str, list[widgets.Button]] = {}  # instance id -> its row's cells
        self.resource_picker = widgets.Dropdown(description="Volume/key", options=self._resource_options(),
                                                layout=widgets.Layout(width=FULL_WIDTH))
        self.resource_view = LiveSection(self._render_resource, "resource")
        self._quiet = False  # True while the controls are set from the investigation (no re-analysis)
        self._fill_table()
        self._show_window()
        self.summary.refresh()
        self.resource_view.refresh()
        self.region.observe(self._on_region, names="value")
        self.instance_picker.observe(self._on_instance, names="value")
        self.investigate_button.on_click(self._on_typed_instance)
        for button, (_label, minutes) in zip(self.presets, WINDOW_PRESETS):
            button.on_click(self._preset(minutes))
        self.window_before.observe(self._on_window, names="value")
        self.window_after.observe(self._on_window, names="value")
        self.org_role.observe(self._on_org_role, names="value")
        self.resource_picker.observe(lambda _change: self.resource_view.refresh(), names="value")
        investigation.listeners.append(self._after_analyse)

    def widget(self) -> widgets.Widget:
        """Everything in one box, for `display`: controls left, verdict right, the table below."""
        label = widgets.HTML
        left = widgets.VBox([
            self.region, self.instance_picker, widgets.HBox([self.instance_id, self.investigate_button]),
            label("<b>CloudTrail window around the incident</b>"), widgets.HBox(self.presets),
            widgets.HBox([self.window_before, self.window_after]), self.window_bounds,
            label("<b>Management account</b> <span class=\"kit-muted\">(SCP changes are recorded there)</span>"),
            self.org_role, self.org_role_error, self.status,
        ], layout=widgets.Layout(flex="0 1 430px", min_width="320px", margin="0 12px 0 0"))
        right = widgets.Box([self.summary.output], layout=widgets.Layout(flex="1 1 380px", min_width="0"))
        return widgets.VBox([
            widgets.HTML(style()),
            widgets.HBox([left, right], layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start",
                                                              width=FULL_WIDTH)),
            label("<b>Instances that failed to launch</b> <span class=\"kit-muted\">(click a row to investigate "
                  "it)</span>"),
            self.instance_table,
            self.resource_picker, self.resource_view.output,
        ], layout=widgets.Layout(width=FULL_WIDTH, overflow="hidden"))

    # -- callbacks ----------------------------------------------------------------------------------------

    def pick(self, instance_id: str) -> None:
        """Investigate `instance_id` (what the picker, the table and the typed id do)."""
        if instance_id and instance_id != self.investigation.params.instance_id:
            self._run(lambda: self.investigation.analyse(instance_id=instance_id))

    def _on_instance(self, change: dict[str, Any]) -> None:
        if not self._quiet and change["new"]:
            self.pick(change["new"])

    def _on_typed_instance(self, _button: Any) -> None:
        typed = self.instance_id.value.strip()
        if typed:
            self._run(lambda: self.investigation.analyse(instance_id=typed, fresh=True))

    def _on_region(self, change: dict[str, Any]) -> None:
        if self._quiet or not change["new"] or change["new"] == self.investigation.params.region:
            return
        self._run(lambda: self.investigation.set_region(change["new"]))
        self.failed = self._load_failed()
        self._fill_table()
        self._quiet = True
        try:
            self.instance_picker.options = self._instance_options()
            self.instance_picker.value = None
        finally:
            self._quiet = False
        self.summary.refresh()

    def _preset(self, minutes: int) -> Callable[[Any], None]:
        def choose(_button: Any) -> None:
            self._quiet = True
            try:
                self.window_before.value = minutes
                self.window_after.value = minutes
            finally:
                self._quiet = False
            self._on_window({})
        return choose

    def _on_window(self, _change: dict[str, Any]) -> None:
        if self._quiet:
            return
        if not self.investigation.params.instance_id:
            self._show_window()
            return
        self._run(lambda: self.investigation.analyse(window_before_minutes=self.window_before.value,
                                                     window_after_minutes=self.window_after.value))

    def _on_org_role(self, change: dict[str, Any]) -> None:
        """The management-account role typed: checked as the `org_role_arn` parameter is; a bad one is said next
        to the field and runs nothing; a good one investigates the current instance again with it."""
        if self._quiet:
            return
        typed = str(change["new"] or "").strip()
        if typed == self.investigation.params.org_role_arn:
            self.org_role_error.value = ""
            return
        from kit.params import validate

        try:
            validate({"org_role_arn": typed})
        except KitError as exc:
            self._show_org_role_error(exc)
            return
        self.org_role_error.value = ""
        self._run(lambda: self.investigation.set_org_role_arn(typed), on_error=self._show_org_role_error)
        if self.investigation.params.org_role_arn == typed and self.table_buttons:
            self.investigation.prefetch(list(self.table_buttons))  # the listed instances, read with the new role

    def _show_org_role_error(self, exc: KitError) -> None:
        self.org_role_error.value = f'<span class="kit-field-error">{html.escape(str(exc))}</span>'

    def _run(self, action: Callable[[], Any], on_error: Callable[[KitError], None] | None = None) -> None:
        self.status.value = '<span class="kit-muted">Investigating...</span>'
        try:
            action()
        except KitError as exc:
            self.status.value = f'<span style="color:#b71c1c">{html.escape(str(exc))}</span>'
            if on_error is not None:
                on_error(exc)
            return
        p = self.investigation.params
        if p.instance_id:
            management = "; management account read" if p.org_role_arn else ""
            self.status.value = html.escape(f"Investigated {p.instance_id} in {p.region} "
                                            f"(window {p.window_before_minutes}/{p.window_after_minutes} min"
                                            f"{management}).")
        else:
            self.status.value = html.escape(f"Region {p.region}: pick an instance.")

    def _after_analyse(self) -> None:
        p = self.investigation.params
        self._quiet = True
        try:
            if p.instance_id in {value for _, value in self.instance_picker.options}:
                self.instance_picker.value = p.instance_id
            self.window_before.value, self.window_after.value = p.window_before_minutes, p.window_after_minutes
            if self.org_role.value.strip() != p.org_role_arn:  # the role in use (a rejected one is not)
                self.org_role.value, self.org_role_error.value = p.org_role_arn, ""
        finally:
            self._quiet = False
        self._mark_picked()
        self._show_window()
        self.resource_picker.options = self._resource_options()
        self.summary.refresh()
        self.resource_view.refresh()

    # -- content ------------------------------------------------------------------------------------------

    def _load_failed(self) -> pd.DataFrame:
        p = self.investigation.params
        self.listing_problem = ""
        if p.source != "live":
            return pd.DataFrame()
        from kit.notebook.account import explain_listing_error

        if not p.region:
            self.listing_problem = explain_listing_error(ValueError("no Region"), "")
            return pd.DataFrame()
        from kit.notebook.instances import failed_instances

        try:
            return failed_instances(p.region, profile=p.profile, role_arn=p.role_arn)
        except Exception as exc:  # no credentials or permission to list: say what is missing; typing still works
            self.listing_problem = explain_listing_error(exc, p.region)
            return pd.DataFrame()

    @staticmethod
    def _region_options(current: str) -> list[str]:
        from kit.notebook.account import REGIONS

        return sorted({*REGIONS, current} - {""})

    def _fill_table(self) -> None:
        """The failed instances as rows of buttons: a click anywhere on a row investigates that instance."""
        text = self.investigation.text
        if self.listing_problem:
            self.instance_table.children = [widgets.HTML(
                f'<div class="kit-report kit-live"><div class="kit-summary kit-tone-unknown"><p><b>Cannot list the '
                f"instances.</b> {html.escape(text(self.listing_problem))}</p></div></div>")]
            self.table_buttons = {}
            return
        if "instance_id" not in self.failed.columns or not len(self.failed):
            where = self.investigation.params.region or "this Region"
            self.instance_table.children = [widgets.HTML(
                f'<p class="kit-muted">No instance in {html.escape(where)} went pending, then stopped on a launch '
                "failure. Choose another Region, or type the instance id.</p>")]
            self.table_buttons = {}
            return
        grid = "minmax(0,1.3fr) minmax(0,1fr) minmax(0,1.6fr) minmax(0,1.2fr) minmax(0,0.8fr)"
        header = widgets.GridBox([widgets.HTML(f"<b>{name.replace('_', ' ')}</b>") for name in TABLE_COLUMNS],
                                 layout=widgets.Layout(grid_template_columns=grid, width=FULL_WIDTH))
        rows: list[widgets.Widget] = [header]
        self.table_buttons = {}
        for row in self.failed.head(TABLE_ROWS).itertuples(index=False):
            instance = str(row.instance_id)
            cells = []
            for column in TABLE_COLUMNS:
                value = getattr(row, column)
                shown = value.strftime("%Y-%m-%d %H:%M:%SZ") if isinstance(value, pd.Timestamp) else str(value or "")
                cell = widgets.Button(description=text(shown), tooltip=text(f"Investigate {instance}"),
                                      layout=widgets.Layout(width="auto", min_width="0", margin="0",
                                                            justify_content="flex-start"))
                cell.on_click(lambda _b, picked=instance: self.pick(picked))
                cells.append(cell)
            self.table_buttons[instance] = cells
            rows.append(widgets.GridBox(cells, layout=widgets.Layout(grid_template_columns=grid, width=FULL_WIDTH,
                                                                    grid_gap="0px")))
        self.instance_table.children = rows
        self._mark_picked()
        self.investigation.prefetch(list(self.table_buttons))  # the newest, investigated before they are picked

    def _mark_picked(self) -> None:
        picked = self.investigation.params.instance_id
        for instance, cells in self.table_buttons.items():
            for cell in cells:
                cell.style.button_color = "#cfe8fc" if instance == picked else "#f7f7f7"
                cell.style.font_weight = "bold" if instance == picked else "normal"

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

    def _show_window(self) -> None:
        """The window as absolute UTC bounds (from the collection, or from the launch when nothing ran yet)."""
        p = self.investigation.params
        for button, (_label, minutes) in zip(self.presets, WINDOW_PRESETS):
            chosen = p.window_before_minutes == minutes and p.window_after_minutes == minutes
            button.button_style = "info" if chosen else ""
        evidence = self.investigation.evidence
        window = (evidence.parameters.get("cloudtrail_window") if evidence is not None else None) or {}
        if window.get("start") and window.get("end"):
            self.window_bounds.value = (f'<span class="kit-window">CloudTrail read from <b>{_utc(window["start"])}</b> '
                                        f"to <b>{_utc(window['end'])}</b> (UTC)</span>")
        else:
            self.window_bounds.value = ('<span class="kit-window kit-muted">The absolute bounds appear once an '
                                        "instance is investigated.</span>")

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

    def _render_summary(self) -> str:
        investigation = self.investigation
        findings = investigation.findings_dict() if investigation.findings is not None else None
        return style() + verdict_summary(findings)

    def _render_resource(self) -> str:
        choice = self.resource_picker.value if hasattr(self, "resource_picker") else None
        frames = self.investigation.frames
        if not choice or frames is None:
            return '<p class="kit-muted">Choose a volume or key to see its details.</p>'
        kind, _, ident = choice.partition(":")
        view = self.investigation.view
        parts = [blocks.stylesheet(), style(), '<div class="kit-report kit-live">']
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


def _utc(value: str) -> str:
    """An ISO 8601 time as `YYYY-MM-DD HH:MM:SS` in UTC (escaped)."""
    try:
        return html.escape(pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S"))
    except (ValueError, TypeError):
        return html.escape(str(value))
