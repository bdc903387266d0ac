"""The figures of one system on the page: topology, chosen variables, and for
a live twin its outputs against the plant, residuals and estimates.

Each figure streams from a source at most POINTS_PER_TICK new points per
update, decimated from what the feed kept, and rolls over at KEEP points:
the browser's load stays bounded however fast the system steps.
"""

from __future__ import annotations

import html
import math

import networkx as nx
import numpy as np
from bokeh.layouts import column, row
from bokeh.models.sources import ColumnDataSource
from bokeh.models.widgets.inputs import MultiChoice
from bokeh.models.widgets.markups import Div
from bokeh.palettes import Category10

from cosim.web.tap import decimate

__all__ = ["HEALTH_COLOURS", "SystemPlots"]

COLOURS = Category10[10]
HEALTH_COLOURS = {"ok": "#43a047", "stale": "#fb8c00", "late": "#fdd835", "failed": "#e53935"}
MAX_LINES = 6
KEEP = 4000
POINTS_PER_TICK = 200


def _figure(name: str, title: str, **options):
    from bokeh.plotting import figure
    return figure(name=name, title=title, height=260, sizing_mode="stretch_width",
                  tools="pan,wheel_zoom,box_zoom,reset,save", **options)


def _layout(components, edges) -> dict:
    graph = nx.DiGraph()
    graph.add_nodes_from(components)
    graph.add_edges_from((a, b) for a, b, _ in edges)
    if len(components) < 2:
        return {c: (0.0, 0.0) for c in components}
    return nx.spring_layout(graph, seed=1)


class SystemPlots:
    """The figures of one watched system (see :class:`cosim.web.feed.Feed`)."""

    def __init__(self, watched):
        self.w = watched
        self.status = Div(name="status", css_classes=["cosim-status"])
        self._topology()
        self._variables()
        self.twin_box = column(Div(text=""), name="twin_box", sizing_mode="stretch_width")
        self.twin = None
        self.generation = -1
        self.cursor = 0

    def layout(self):
        return column(self.status, row(self.topology, self.plot, sizing_mode="stretch_width"),
                      self.choice, self.legend, self.twin_box, sizing_mode="stretch_width")

    # -- topology ----------------------------------------------------------------------

    def _topology(self) -> None:
        topo = self.w.topology
        where = _layout(topo.components, topo.connections)
        self.nodes = ColumnDataSource(name="nodes", data={
            "x": [float(where[c][0]) for c in topo.components],
            "y": [float(where[c][1]) for c in topo.components],
            "name": list(topo.components), "health": ["ok"] * len(topo.components),
            "colour": [HEALTH_COLOURS["ok"]] * len(topo.components)})
        edges = ColumnDataSource(data={
            "xs": [[float(where[a][0]), float(where[b][0])] for a, b, _ in topo.connections],
            "ys": [[float(where[a][1]), float(where[b][1])] for a, b, _ in topo.connections],
            "label": [label for _, _, label in topo.connections]})
        fig = _figure("topology", "components (green ok, orange stale, yellow late, red failed)",
                      tooltips=[("component", "@name"), ("health", "@health"),
                                ("connection", "@label")], width=420)
        fig.sizing_mode = "fixed"
        fig.multi_line("xs", "ys", source=edges, line_color="#90a4ae", line_width=2)
        fig.scatter("x", "y", source=self.nodes, size=28, fill_color="colour",
                    line_color="#37474f")
        fig.text("x", "y", text="name", source=self.nodes, y_offset=-18, text_font_size="11px",
                 text_align="center")
        fig.axis.visible = False
        fig.grid.visible = False
        pad = 0.5 if len(topo.components) > 1 else 2.0
        fig.x_range.range_padding = fig.y_range.range_padding = pad
        self.topology = fig
        self._health: dict = {}

    def _update_health(self) -> None:
        health = self.w.snapshot.health
        if health and health != self._health:
            self._health = dict(health)
            names = self.nodes.data["name"]
            states = [health.get(n, "ok") for n in names]
            self.nodes.data.update(health=states, colour=[HEALTH_COLOURS[s] for s in states])
            self.nodes.data = dict(self.nodes.data)

    # -- chosen variables --------------------------------------------------------------

    def _variables(self) -> None:
        self.choice = MultiChoice(name="variables", title="variables to plot", options=[],
                                  value=[], max_items=MAX_LINES, sizing_mode="stretch_width")
        self.choice.on_change("value", lambda attr, old, new: self._restart())
        self.legend = Div(name="legend")
        self.series = ColumnDataSource(name="series", data=self._empty())
        self.fork = ColumnDataSource(name="what_if", data=self._empty())
        self.plot = _figure("plot", "variables (dashed: the last what-if run)",
                            x_axis_label="time (s)")
        for i in range(MAX_LINES):
            self.plot.line("t", f"y{i}", source=self.series, line_width=2,
                           line_color=COLOURS[i % len(COLOURS)])
            self.plot.line("t", f"y{i}", source=self.fork, line_width=2, line_dash="dashed",
                           line_color=COLOURS[i % len(COLOURS)])

    @staticmethod
    def _empty() -> dict:
        return {"t": [], **{f"y{i}": [] for i in range(MAX_LINES)}}

    def _restart(self) -> None:
        self.cursor = 0
        self.series.data = self._empty()
        self.fork.data = self._empty()          # drawn for other variables
        self.legend.text = " ".join(
            f"<span style='color: {COLOURS[i % len(COLOURS)]}'>&#9632; {html.escape(n)}</span>"
            for i, n in enumerate(self.choice.value))

    def show_fork(self, times: np.ndarray, values: dict) -> None:
        """Overlay a what-if run's ``values`` (name -> array over ``times``) on
        the chosen variables, decimated to the plot's size."""
        names = list(self.choice.value)
        table = np.full((len(times), MAX_LINES), np.nan)
        for i, name in enumerate(names[:MAX_LINES]):
            if name in values:
                table[:, i] = values[name]
        times, table = decimate(np.asarray(times), table, KEEP)
        self.fork.data = {"t": times, **{f"y{i}": table[:, i] for i in range(MAX_LINES)}}

    def _update_series(self) -> None:
        tap = self.w.tap
        if tap.names != self.choice.options:
            self.choice.options = list(tap.names)
            if not self.choice.value:
                self.choice.value = list(tap.names[:3])
        if tap.generation != self.generation:
            self.generation = tap.generation
            self._restart()
        columns = [tap.names.index(n) for n in self.choice.value if n in tap.names]
        if not columns:
            return
        limit = KEEP if self.cursor == 0 else POINTS_PER_TICK
        times, values, self.cursor = tap.since(self.cursor, columns, limit)
        if len(times):
            new = {"t": times, **{f"y{i}": values[:, i] if i < values.shape[1]
                                  else np.full(len(times), np.nan) for i in range(MAX_LINES)}}
            self.series.stream(new, rollover=KEEP)

    # -- status and updates ------------------------------------------------------------

    def update(self) -> None:
        """Bring every figure up to date with the feed (one screen tick)."""
        snap = self.w.snapshot
        running = " (running)" if snap.running else ""
        error = f"<br><b>failed:</b> {html.escape(snap.error[:400])}" if snap.error else ""
        stale = (f"<br>stale inputs: {html.escape(', '.join(snap.stale_inputs))}"
                 if snap.stale_inputs else "")
        self.status.text = (f"<b>{html.escape(snap.name)}</b> state <span class='state'>"
                            f"{snap.state}{running}</span>, t = <span class='time'>{snap.time:.6g}"
                            f"</span> s, {snap.steps} steps{stale}{error}")
        self._update_health()
        self._update_series()
        twin = self.w.hosted.twin
        if twin is not None and self.twin is None and twin.comparisons:
            self.twin = TwinPlots(twin)
            self.twin_box.children = [self.twin.layout()]
        if self.twin is not None:
            self.twin.update()


class TwinPlots:
    """A live twin's outputs against the plant, residuals with alert thresholds,
    and its estimators' estimates over time."""

    def __init__(self, twin):
        self.twin = twin
        self.compared = twin.comparisons[:MAX_LINES // 2]
        self.limits = self._thresholds(twin.alerts)
        keys: dict = {"t": [], **{f"l{k}": [] for k in range(len(self.limits["residual"]))}}
        for i in range(len(self.compared)):
            keys.update({f"m{i}": [], f"o{i}": [], f"r{i}": []})
        self.source = ColumnDataSource(name="twin", data=keys)
        self.outputs = _figure("twin_plot", "twin outputs (solid) and plant measurements (dashed)",
                               x_axis_label="time (s)")
        self.residuals = _figure("residual_plot", "residuals (measured - twin)",
                                 x_axis_label="time (s)")
        for i, c in enumerate(self.compared):
            colour = COLOURS[i % len(COLOURS)]
            self.outputs.line("t", f"o{i}", source=self.source, line_color=colour, line_width=2,
                              legend_label=c.output)
            self.outputs.line("t", f"m{i}", source=self.source, line_color=colour,
                              line_dash="dashed", legend_label=c.signal)
            self.residuals.line("t", f"r{i}", source=self.source, line_color=colour,
                                legend_label=c.signal)
        self.parameters = [p for e in twin.estimators for p in e.parameters][:MAX_LINES]
        self.estimates = ColumnDataSource(name="estimates", data={
            "t": [], **{f"e{i}": [] for i in range(len(self.parameters))},
            **{f"l{k}": [] for k in range(len(self.limits["estimate"]))}})
        self.estimate_fig = _figure("estimate_plot", "estimates", x_axis_label="time (s)")
        for i, p in enumerate(self.parameters):
            self.estimate_fig.line("t", f"e{i}", source=self.estimates, line_width=2,
                                   line_color=COLOURS[i % len(COLOURS)], legend_label=p)
            self.estimate_fig.scatter("t", f"e{i}", source=self.estimates,
                                      color=COLOURS[i % len(COLOURS)])
        # Thresholds are data, not annotations: the figure's range then includes them.
        for kind, fig, source in (("residual", self.residuals, self.source),
                                  ("estimate", self.estimate_fig, self.estimates)):
            for k, (_, label) in enumerate(self.limits[kind]):
                fig.line("t", f"l{k}", source=source, line_color="#e53935", line_width=2,
                         line_dash="dotdash", legend_label=label)
        self.cursor = 0
        self.estimated = 0

    @staticmethod
    def _thresholds(alerts) -> dict[str, list[tuple[float, str]]]:
        """The alerts' thresholds on residuals and on estimates, with their labels."""
        limits: dict[str, list[tuple[float, str]]] = {"residual": [], "estimate": []}
        for alert in alerts:
            kind = alert.value.partition(":")[0]
            for level, side in ((alert.above, "above"), (alert.below, "below")):
                if kind in limits and level is not None:
                    limits[kind].append((float(level), f"alert {side} {level:g}: {alert.name}"))
        return limits

    def _with_limits(self, kind: str, columns: dict, n: int) -> dict:
        for k, (level, _) in enumerate(self.limits[kind]):
            columns[f"l{k}"] = np.full(n, level)
        return columns

    def layout(self):
        figures = [self.outputs, self.residuals]
        if self.parameters:
            figures.append(self.estimate_fig)
        return column(*figures, sizing_mode="stretch_width")

    def update(self) -> None:
        twin = self.twin
        n = min(twin.measured.n, twin.residuals.n)
        if n > self.cursor:
            times = twin.measured.times[self.cursor:n]
            measured = twin.measured.values[self.cursor:n, :len(self.compared)]
            residual = twin.residuals.values[self.cursor:n, :len(self.compared)]
            both = np.concatenate([measured, residual], axis=1)
            times, both = decimate(times, both, POINTS_PER_TICK)
            k = len(self.compared)
            new = {"t": times}
            for i in range(k):
                new.update({f"m{i}": both[:, i], f"r{i}": both[:, k + i],
                            f"o{i}": both[:, i] - both[:, k + i]})
            self.source.stream(self._with_limits("residual", new, len(times)), rollover=KEEP)
            self.cursor = n
        history = [h for e in twin.estimators for h in e.history]
        if len(history) > self.estimated and self.parameters:
            fresh = history[self.estimated:]
            self.estimated = len(history)
            columns = {"t": [t for t, _, _ in fresh], **{
                f"e{i}": [est.get(p, math.nan) for _, est, _ in fresh]
                for i, p in enumerate(self.parameters)}}
            self.estimates.stream(self._with_limits("estimate", columns, len(fresh)),
                                  rollover=KEEP)
