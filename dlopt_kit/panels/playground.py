"""The playground: lesson 09's sandbox as a standalone app (``make playground``, served by Voilà from
``playground/playground.ipynb``), with "Show the code": the Python and the ``python -m dlopt_kit compare`` command
that reproduce the comparison on screen, its configs written as recipe files where the command reads them.
"""

from __future__ import annotations

import html
from pathlib import Path

import ipywidgets as W

from dlopt_kit.core.config import RunConfig
from dlopt_kit.core.device import configure_threads
from dlopt_kit.core.paths import runs_dir
from dlopt_kit.panels.sandbox import SandboxPanel
from dlopt_kit.sandbox.export import Export, export
from dlopt_kit.sandbox.recipes import Recipe
from dlopt_kit.sandbox.store import Store


def _holds(widget: W.Widget, part: W.Widget) -> bool:
    """Whether ``part`` is ``widget`` or sits anywhere inside it."""
    return widget is part or any(_holds(child, part) for child in getattr(widget, "children", ()))


class Playground:
    """``SandboxPanel`` (every strategy's knobs, the queue, curves with bands, paired verdicts, the store, recipes
    saved and loaded, and the data-file box where the sandbox has one) plus **Show the code**: the configs in the
    store and the queue (or the current settings when both are empty) are written as recipe files in ``folder``
    (default ``runs/playground/``) and the Python and the terminal command that compare them are shown.
    ``store`` defaults to ``runs/playground.sqlite``, apart from lesson 09's."""

    def __init__(self, base: RunConfig | None = None, store: Store | str | Path | None = None,
                 folder: str | Path | None = None, title: str = "dlopt-kit playground") -> None:
        configure_threads()  # the thread count the command uses: the same seed gives the same numbers
        self.sandbox = SandboxPanel(base, store=runs_dir() / "playground.sqlite" if store is None else store,
                                    title=title)
        self.folder = Path(folder) if folder is not None else runs_dir() / "playground"
        self.code_button = W.Button(description="Show the code", icon="code")
        self.code_note = W.HTML()
        self.code_view = W.HTML()
        self.exported: Export | None = None
        self.code_button.on_click(lambda _b: self.show_code())
        sandbox = self.sandbox.widget
        data_box = getattr(self.sandbox, "data_box", None)
        extra = [data_box] if isinstance(data_box, W.Widget) and not _holds(sandbox, data_box) else []
        self.widget = W.VBox([*extra, sandbox, W.HBox([self.code_button, self.code_note]), self.code_view])
        self.widget.add_class("dlopt-playground")

    def recipes(self) -> list[Recipe]:
        """The configs the code reproduces: the store's, then the queue's; the current settings when both are empty
        (RecipeError naming a bad setting)."""
        sandbox = self.sandbox
        found = [sandbox.store.recipe(name) for name in sandbox.store.names()] + list(sandbox.queue)
        return found or [sandbox.recipe()]

    def show_code(self) -> Export | None:
        """Write the recipe files and show the Python and the command; a bad setting is named and nothing changes."""
        try:
            recipes = self.recipes()
            seeds = recipes[0].seeds
            exported = export(recipes, seeds, self.folder)
        except (ValueError, OSError) as exc:
            self.code_note.value = f"<span style='color:crimson'>No code: {html.escape(str(exc))}</span>"
            return None
        differ = [r.name for r in recipes if r.seeds != seeds]
        note = (f"; {', '.join(differ)} had other seeds: the files give every config seeds {list(seeds)}"
                if differ else "")
        self.exported = exported
        self.code_note.value = (f"{len(exported.files)} recipe file(s) written to "
                                f"{html.escape(str(self.folder.resolve()))}{html.escape(note)}.")
        self.code_view.value = (
            "<b>Python</b> (in a notebook or a script)"
            f"<pre class='dlopt-code-python'>{html.escape(exported.python)}</pre>"
            "<b>Terminal</b> (in the kit's environment: <code>.venv/bin/python</code> for <code>python</code>)"
            f"<pre class='dlopt-code-command'>{html.escape(exported.command)}</pre>")
        return exported


__all__ = ["Playground"]
