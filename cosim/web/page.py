"""The page of the live view: one Bokeh document per open browser tab.

The page lists the hosted systems with their figures, and for the chosen
one (``/?system=ID``, else the first) shows its topology coloured by
health, live plots of chosen variables, and for a live twin its outputs
against the plant's measurements, the residuals with their alert
thresholds and the estimator's estimates.  Its controls initialize, run
until a time, pause and set inputs or tunable parameters.  Everything it
shows is read from the feed (:mod:`cosim.web.feed`) a few times a second.
"""

from __future__ import annotations

import html
import logging
import math
from functools import partial

from bokeh.layouts import column, row
from bokeh.models.widgets.buttons import Button
from bokeh.models.widgets.inputs import TextInput
from bokeh.models.widgets.markups import Div

from cosim.web.actions import ActionError, number
from cosim.web.plots import SystemPlots

__all__ = ["Page"]

log = logging.getLogger("cosim.web")

TICK_MS = 250           # the screen rate of the plots
LIST_EVERY = 2          # ticks between updates of the systems list


def _ms(seconds: float) -> str:
    return "-" if not math.isfinite(seconds) else f"{1e3 * seconds:.2f}"


def _named(kind, name: str, **options):
    """A widget named ``name`` (the tests and scripts find it by the class ``cosim-<name>``)."""
    return kind(name=name, css_classes=[f"cosim-{name}"], **options)


def systems_table(snapshots, selected: str | None) -> str:
    """The hosted systems and their figures as an HTML table."""
    head = ("<tr><th>system</th><th>id</th><th>state</th><th>time (s)</th><th>real-time factor</th>"
            "<th>lateness p50/p99 (ms)</th><th>jitter p50/p99 (ms)</th><th>overruns</th>"
            "<th>failure</th></tr>")
    rows = []
    for s in snapshots:
        rtf = "-" if not math.isfinite(s.realtime_factor) else f"{s.realtime_factor:.3g}"
        state = s.state + (", running" if s.running else "")
        mark = " style='font-weight: bold'" if s.id == selected else ""
        rows.append(
            f"<tr class='system' data-id='{s.id}'{mark}><td><a href='?system={s.id}'>"
            f"{html.escape(s.name)}</a></td><td><code>{s.id[:8]}</code></td>"
            f"<td class='state'>{state}</td><td class='time'>{s.time:.6g}</td><td>{rtf}</td>"
            f"<td>{_ms(s.lateness_p50)} / {_ms(s.lateness_p99)}</td>"
            f"<td>{_ms(s.jitter_p50)} / {_ms(s.jitter_p99)}</td><td>{s.overruns}</td>"
            f"<td>{html.escape(s.error[:200])}</td></tr>")
    if not rows:
        return "<p class='empty'>No system is hosted yet.</p>"
    return ("<table class='systems' style='border-collapse: collapse' cellpadding='4'>"
            f"{head}{''.join(rows)}</table>")


class Page:
    """The view of one browser tab (see the module docstring)."""

    def __init__(self, doc, web):
        self.doc, self.web = doc, web
        self.feed, self.controls = web.feed, web.controls
        self.selected: str | None = None
        self.plots: SystemPlots | None = None
        self.ticks = 0

    def _arguments(self) -> tuple[dict, dict]:
        request = self.doc.session_context.request
        arguments = {k: v[0].decode(errors="replace") for k, v in (request.arguments or {}).items()
                     if v}
        return arguments, dict(request.cookies or {})

    def build(self) -> None:
        """Fill the document (called by Bokeh for each new session)."""
        self.doc.title = "cosim live view"
        arguments, cookies = self._arguments()
        token = arguments.get("token") or cookies.get(self.web.auth.cookie_name)
        if not self.web.auth.accepts(token):
            self.doc.add_root(Div(name="refused", text="<h1>Access refused</h1><p>Open the address "
                                  "the server printed (it carries the token).</p>"))
            return
        self.message = Div(name="message", text="", css_classes=["cosim-message"])
        self.systems = Div(name="systems", css_classes=["cosim-systems"])
        self.feed.discover()
        wanted = arguments.get("system")
        known = {s.id for s in self.feed.systems()}
        if wanted is not None and wanted not in known:
            self.error(f"system: no system {wanted!r} on this server; choose one from the list")
        elif wanted is not None:
            self.selected = wanted
        elif known:
            self.selected = next(s.id for s in self.feed.systems())
        self.systems.text = systems_table(self.feed.systems(), self.selected)
        parts = [Div(text="<h2>cosim live view</h2>"), self.systems, self.message]
        watched = self.feed.watched(self.selected) if self.selected else None
        if watched is not None:
            self.plots = SystemPlots(watched)
            controls = (Div(text="<p>This system is run by its own program: the view watches "
                                 "it and offers no controls.</p>")
                        if self.selected in self.controls.external else self._controls())
            parts += [controls, self.plots.layout()]
        self.doc.add_root(column(*parts, sizing_mode="stretch_width"))
        self.doc.add_periodic_callback(self._tick, TICK_MS)

    # -- messages ----------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.message.text = f"<p class='info'>{html.escape(text)}</p>"

    def error(self, text: str) -> None:
        self.message.text = (f"<p class='error' style='color: #b71c1c; font-weight: bold'>"
                             f"Error: {html.escape(text)}</p>")

    # -- controls ----------------------------------------------------------------------

    def _controls(self):
        self.factor = _named(TextInput, "factor", value="1", width=200,
                             title="real-time factor (0: as fast as possible)")
        self.step = _named(TextInput, "step", value="", width=140,
                           title="step (s; empty: default)")
        initialize = _named(Button, "initialize", label="Initialize", button_type="primary")
        self.until = _named(TextInput, "until", title="run until (s)", value="", width=140)
        run = _named(Button, "run", label="Run", button_type="success")
        pause = _named(Button, "pause", label="Pause", button_type="warning")
        self.set_name = _named(TextInput, "set_name", title="input or tunable parameter",
                               width=260)
        self.set_value = _named(TextInput, "set_value", title="value", width=120)
        set_ = _named(Button, "set", label="Set")
        self.fork_until = _named(TextInput, "fork_until", title="what-if until (s)", width=140)
        fork = _named(Button, "fork", label="Fork what-if")
        fork.on_click(self._fork)
        initialize.on_click(self._initialize)
        run.on_click(self._run)
        pause.on_click(self._pause)
        set_.on_click(self._set)
        return column(row(self.step, self.factor, initialize, self.until, run, pause),
                      row(self.set_name, self.set_value, set_, self.fork_until, fork))

    def _submit(self, what: str, call) -> None:
        """Run ``call`` off the IOLoop; its outcome (a text, or an error) becomes the message."""
        future = self.web.workers.submit(call)
        future.add_done_callback(lambda f: self._later(partial(self._finished, what, f)))

    def _later(self, callback) -> None:
        """Run ``callback`` on the page's IOLoop, if the page is still open (a
        run goes on when its page is closed)."""
        try:
            self.doc.add_next_tick_callback(callback)
        except Exception:              # noqa: BLE001 - the session is gone
            log.debug("a page closed before its control finished")

    def _finished(self, what: str, future) -> None:
        try:
            text = future.result()
        except ActionError as exc:
            self.error(f"{what}: {exc}")
        except Exception as exc:       # noqa: BLE001 - shown on the page; the server goes on
            self.error(f"{what}: {type(exc).__name__}: {exc}")
        else:
            if text:
                self.say(text)

    def _initialize(self) -> None:
        system_id = self.selected
        assert system_id is not None
        try:
            factor = number(self.factor.value, "real-time factor")
            step = number(self.step.value, "step size") if self.step.value.strip() else 0.0
        except ActionError as exc:
            self.error(str(exc))
            return

        def call():
            self.controls.initialize(system_id, realtime_factor=factor, step_size=step)
            return f"initialized (real-time factor {factor:g})"
        self._submit("initialize", call)

    def _run(self) -> None:
        system_id = self.selected
        assert system_id is not None
        try:
            target = number(self.until.value, "run until")
        except ActionError as exc:
            self.error(str(exc))
            return
        self.say(f"running until t={target:g} s")

        def call():
            reached, paused = self.controls.run_until(system_id, target)
            return f"paused at t={reached:g} s" if paused else f"reached t={reached:g} s"
        self._submit("run", call)

    def _pause(self) -> None:
        assert self.selected is not None
        if not self.controls.pause(self.selected):
            self.error("pause: the system is not running")

    def _set(self) -> None:
        system_id = self.selected
        assert system_id is not None
        name, text = self.set_name.value, self.set_value.value
        if not name.strip():
            self.error("set: give the input or tunable parameter to set (component.variable)")
            return
        try:
            number(text, name.strip() or "value")
        except ActionError as exc:
            self.error(str(exc))
            return

        def call():
            value = self.controls.set_value(system_id, name, text)
            return f"set {name.strip()} = {value:g}"
        self._submit(f"set {name.strip()}", call)

    def _fork(self) -> None:
        """A what-if run from the current state, with the input or parameter
        above set to its value when both are given, overlaid on the plot."""
        system_id, plots = self.selected, self.plots
        assert system_id is not None and plots is not None
        name = self.set_name.value.strip()
        try:
            until = number(self.fork_until.value, "what-if until")
            changes = {name: number(self.set_value.value, name)} if name else {}
        except ActionError as exc:
            self.error(str(exc))
            return
        names = list(plots.choice.value)
        self.say(f"what-if to t={until:g} s running")

        def call():
            times, values = self.controls.fork(system_id, until, changes, names)
            self._later(partial(plots.show_fork, times, values))
            change = ", ".join(f"{k} = {v:g}" for k, v in changes.items()) or "no change"
            return f"what-if to t={until:g} s ({change}) drawn dashed"
        self._submit("what-if", call)

    # -- updates -----------------------------------------------------------------------

    def _tick(self) -> None:
        self.ticks += 1
        if self.ticks % LIST_EVERY == 0:
            self.systems.text = systems_table(self.feed.systems(), self.selected)
        if self.plots is not None:
            self.plots.update()

