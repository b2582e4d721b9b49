"""What every panel shares: controls built from a spec (``Control``, ``build_control``, ``control_grid``), reading and
setting them (``PanelControls``), and the Run/Stop lifecycle of a background worker (``RunStopPanel``).

The work runs in a background thread so the kernel stays responsive and Stop works; Stop only sets an event that the
work polls (between epochs, trials, batches), so whatever finished before it is kept.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets as W

from dlopt_kit.core import checks


@dataclass(frozen=True)
class Control:
    """One knob: ``kind`` is ``choice``, ``int``, ``float`` or ``bool``; ``name`` is a RunConfig field or a
    lesson-specific setting that the panel's ``make_config`` / ``data`` function reads."""

    name: str
    kind: str
    default: Any
    options: tuple = ()
    label: str = ""


# Controls sit in a grid whose columns are at least CONTROL_MIN_WIDTH wide and share the rest of the row; each
# control fills its cell (width 100%) and its label takes the width it needs, so no label runs into its neighbour.
CONTROL_MIN_WIDTH = "220px"


def control_grid(widgets: Sequence[W.Widget], min_width: str = CONTROL_MIN_WIDTH) -> W.GridBox:
    """Lay ``widgets`` out in as many columns of at least ``min_width`` as the notebook's width allows."""
    for widget in widgets:
        # the full cell's width and no side margin: ipywidgets' default 2px margin on each side would push a
        # control out of its cell, and the last column past the page's edge in Jupyter Notebook 7
        widget.layout.width = "100%"
        widget.layout.min_width = "0"
        widget.layout.margin = "2px 0"
    return W.GridBox(list(widgets), layout=W.Layout(
        grid_template_columns=f"repeat(auto-fill, minmax({min_width}, 1fr))", grid_gap="4px 16px", width="100%"))


def control_value(control: Control, value: Any) -> Any:
    """``value`` as ``control`` can hold it, or ValueError naming the control and what is allowed."""
    if control.kind == "choice":
        return checks.choice(control.name, value, [str(o) for o in control.options])
    if control.kind == "int":
        return checks.integer(control.name, value)
    if control.kind == "float":
        return checks.finite(control.name, value)
    return checks.flag(control.name, value)


def build_control(control: Control) -> W.Widget:
    """A widget for ``control``. Number boxes are unbounded on purpose: the config names what is allowed."""
    description = control.label or control.name
    style = {"description_width": "initial"}
    if control.kind == "choice":
        return W.Dropdown(options=list(control.options), value=control.default, description=description, style=style)
    if control.kind == "int":
        # a float box on purpose: an integer box would silently truncate 2.7 typed in the browser to 2, where the
        # config can say "epochs=2.7 must be a whole number" (values() hands whole numbers back as int)
        return W.FloatText(value=control.default, description=description, style=style)
    if control.kind == "float":
        return W.FloatText(value=control.default, description=description, style=style)
    if control.kind == "bool":
        return W.Checkbox(value=control.default, description=description, indent=False, style=style)
    raise ValueError(f"control kind {control.kind!r} for {control.name!r} is not allowed: "
                     "choose choice, int, float or bool")


class PanelControls:
    """Reading and setting a panel's controls: ``self.spec`` (the ``Control`` list) and ``self.controls`` (name to
    widget)."""

    spec: list[Control]
    controls: dict[str, W.Widget]

    def values(self) -> dict[str, Any]:
        """The controls' values; whole-number boxes give an int when they hold one (else the float, refused later)."""
        kinds = {c.name: c.kind for c in self.spec}

        def plain(name: str, value: Any) -> Any:
            if kinds[name] == "int" and isinstance(value, float) and value.is_integer():
                return int(value)
            return value

        return {name: plain(name, widget.value) for name, widget in self.controls.items()}

    def set_values(self, **values: Any) -> None:
        """Set controls by name. A value its control cannot hold (text or ``True`` in a number box, 2.7 in a
        whole-number box, an option the dropdown lacks) raises ValueError naming it and what is allowed, and no
        control changes."""
        checks.known_names("control(s)", values, list(self.controls))
        kinds = {c.name: c for c in self.spec}
        plain = {name: control_value(kinds[name], value) for name, value in values.items()}
        for name, value in plain.items():
            self.controls[name].value = value


class RunStopPanel:
    """The Run/Stop lifecycle of a panel whose work runs in a background thread.

    Subclasses override ``start()`` (validate and prepare; return the work to run in the thread, or None when
    refused, having said why) and ``on_done()`` (tidy up when the work ends, however it ends), and put
    ``run_button``, ``stop_button`` and ``status`` in their layout. The base owns the thread, the Stop event, the
    buttons' handlers and enabling, the status line, ``running`` and ``wait()``.
    """

    widget: W.Widget  # the panel's layout, built by the subclass
    busy_text: str | None = "A run is in progress: press Stop first."  # said when Run is pressed mid-run; None: quiet
    failed_text = "Run failed"  # the status line's prefix when the work raises

    def __init__(self, run_description: str = "Run") -> None:
        self.run_button = W.Button(description=run_description, button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.status = W.HTML()
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.run_button.on_click(self.on_run)
        self.stop_button.on_click(self.on_stop)

    # ------------------------------------------------------------ what subclasses override
    def start(self) -> Callable[[], object] | None:
        """Read and check the settings and prepare the run; the work to run in the thread, or None when refused."""
        raise NotImplementedError

    def on_done(self) -> None:
        """Called in the worker thread when the work ends (finished, stopped or failed), before Run is enabled."""

    # ------------------------------------------------------------ buttons
    def on_run(self, _button: Any = None) -> None:
        """The Run button: start the work in a background thread unless a run is in progress or ``start`` refuses."""
        if self.running and not self.run_button.disabled:
            self._thread.join()  # the last run has ended and re-enabled Run: its thread is only returning
        if self.running:
            if self.busy_text:
                self._say(self.busy_text, "orange")
            return
        work = self.start()
        if work is None:
            return
        self.error = None
        self._stop.clear()
        self.run_button.disabled, self.stop_button.disabled = True, False
        self._thread = threading.Thread(target=self._work, args=(work,), daemon=True)
        self._thread.start()

    def on_stop(self, _button: Any = None) -> None:
        """The Stop button: ask the work to end at its next check; what finished is kept."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the current run ends; Ctrl-C while waiting presses Stop and waits for the run to end."""
        if self._thread is None:
            return
        try:
            self._thread.join(timeout)
        except KeyboardInterrupt:
            self.on_stop()
            self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------ helpers for subclasses
    def _say(self, message: str, colour: str) -> None:
        self.status.value = f'<span style="color:{colour}">{message}</span>'

    def _not_started(self, exc: Exception, prefix: str = "Not started") -> None:
        """Show a refused setting in the status line, as a bad value typed in is (and keep every earlier result)."""
        self.error = str(exc)
        self._say(f"{prefix}: {html.escape(str(exc))}", "crimson")

    def _set_or_refuse(self, values: dict[str, Any]) -> bool:
        """Set controls (``set_values``, from ``PanelControls``); False when a value was refused, shown in the status
        line as a bad value typed in is."""
        try:
            self.set_values(**values)
        except ValueError as exc:
            self._not_started(exc)
            return False
        return True

    def _press_run(self, wait: bool, values: dict[str, Any]) -> bool:
        """Set controls, click Run and (if ``wait``) wait: what a learner does, from code. False when a value was
        refused (nothing runs)."""
        if not self._set_or_refuse(values):
            return False
        self.run_button.click()
        if wait:
            self.wait()
        return True

    def _work(self, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - shown in the panel; what finished before stays
            self.error = f"{type(exc).__name__}: {exc}"
            self._say(f"{self.failed_text}: {html.escape(self.error)}", "crimson")
        finally:
            try:
                self.on_done()
            finally:  # even if tidying up fails, the panel can run again
                self.run_button.disabled, self.stop_button.disabled = False, True

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        return self.widget._repr_mimebundle_(**kwargs)
