"""The ipywidgets explorer: ``ExplorerWidget`` puts controls around an ``Explorer`` and redraws on each;
``explore`` opens it, or shows the report's static figures (and says so) where ipywidgets is missing."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Callable

from ..errors import SymgradError
from .drawing import slice_figure
from .state import RESOLUTION, Explorer
from .tables import front_html, short, view_html
from .views import SliceView

STATIC_NOTE = ("ipywidgets is not installed, so this view is static (the report's figures, or a batch's table); "
               "pip install 'symgrad[notebook]' for the interactive explorer.")
# what a front end without the widget manager shows instead of the explorer
FRONTEND_NOTE = ("symgrad explorer: needs a Jupyter front end with ipywidgets (JupyterLab >= 3, Notebook >= 7 "
                 "or classic with widgetsnbextension); explore(static=True) shows the static figures.")


def ipywidgets_module():
    """The ipywidgets module, or None where it is not installed."""
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets


class ExplorerWidget:
    """The ipywidgets view of an ``Explorer``: every control calls it and redraws.

    Attributes:
        explorer: the state; formula (IntSlider), compare_with, x_axis, y_axis (Dropdowns),
        sliders (input name -> FloatSlider), image, table, text, latex, message: the widgets; box: all of them.
    """

    def __init__(self, explorer: Explorer, *, export_dir: str | Path | None = None, dpi: int = 80) -> None:
        import ipywidgets as w

        ex, self.explorer, self.dpi = explorer, explorer, dpi
        self.export_dir = Path(export_dir) if export_dir is not None else None
        last = len(ex.rows) - 1
        self.formula = w.IntSlider(value=ex.index, min=0, max=max(last, 1), disabled=last == 0,
                                   description="formula #", continuous_update=False)
        self.compare_with = w.Dropdown(options=[("nothing", -1)] + [(f"#{r.index}: {short(r.expression, 40)}", r.index)
                                                                     for r in ex.rows], value=-1, description="compare with",
                                       style={"description_width": "initial"})
        inputs = [(label, k) for k, label in enumerate(ex.labels)]
        self.x_axis, self.y_axis = (w.Dropdown(options=inputs, value=value, description=axis,
                                               layout=w.Layout(width="190px"), style={"description_width": "45px"})
                                    for value, axis in zip(ex.pair, ("x axis", "y axis")))
        self.sliders = {}
        for k, name in enumerate(ex.names):
            low, high = float(ex.low[k]), float(ex.high[k])
            high = high if high > low else low + 1.0
            self.sliders[name] = w.FloatSlider(value=float(ex.values[k]), min=low, max=high, step=(high - low) / 100,
                                               description=ex.labels[k], continuous_update=False,
                                               readout_format=".3g", layout=w.Layout(width="270px"),
                                               style={"description_width": "80px"}, tooltip=ex.labels[k])
        self.image, self.table, self.text, self.message = w.Image(format="png"), w.HTML(), w.HTML(), w.HTML()
        self.latex = w.HTMLMath()
        self.export_button = w.Button(description="export formula", icon="download", layout=w.Layout(width="auto"),
                                      tooltip="write rule.py, formula_sympy.txt and formula_jax.py")
        self.reset_button = w.Button(description="inputs at medians", icon="undo", layout=w.Layout(width="auto"))
        self.formula.observe(lambda change: self._update(ex.select, change["new"]), names="value")
        self.compare_with.observe(lambda change: self.refresh(), names="value")
        self.x_axis.observe(lambda change: self._axis(0, change), names="value")
        self.y_axis.observe(lambda change: self._axis(1, change), names="value")
        for name, slider in self.sliders.items():
            slider.observe(lambda change, name=name: self._update(ex.set_value, name, change["new"]), names="value")
        self.export_button.on_click(lambda _button: self._export_selected())
        self.reset_button.on_click(lambda _button: self._reset())
        self._quiet = False
        controls = w.VBox([self.x_axis, self.y_axis, self.reset_button, self.export_button],
                          layout=w.Layout(padding="30px 0 0 10px"))
        # as many columns of sliders as the notebook's width holds
        sliders = w.GridBox(list(self.sliders.values()),
                            layout=w.Layout(grid_template_columns="repeat(auto-fill, minmax(275px, 1fr))"))
        self.box = w.VBox([self.table, w.HBox([self.formula, self.compare_with]), w.HBox([self.image, controls]),
                           w.HTML("<b>other inputs</b>: the slice passes through these values (the axes' inputs "
                                  "are greyed)"), sliders, self.latex, self.text, self.message])
        self.refresh()

    # the Explorer's calls, made through the controls (so that they show what was chosen)

    def select(self, index: int) -> "ExplorerWidget":
        self.formula.value = self.explorer.entry_index(index)
        return self

    def set_pair(self, a: int | str, b: int | str) -> "ExplorerWidget":
        self.explorer.set_pair(a, b)
        self._quietly(lambda: setattr(self.x_axis, "value", self.explorer.pair[0]),
                      lambda: setattr(self.y_axis, "value", self.explorer.pair[1]))
        self.refresh()
        return self

    def set_value(self, name: int | str, value: float) -> "ExplorerWidget":
        k = self.explorer.set_value(name, value).input_index(name)
        # a value outside the reference range stays the explorer's; the slider shows its end
        self._quietly(lambda: setattr(self.sliders[self.explorer.names[k]], "value", float(value)))
        self.refresh()
        return self

    def compare(self, first: int, second: int) -> tuple[SliceView, SliceView]:
        self.select(first)
        self.compare_with.value = self.explorer.entry_index(second)
        return self.explorer.compare(first, second)

    def view(self, index: int | None = None) -> SliceView:
        return self.explorer.view(index)

    def figure(self, compare: int | None = None):
        return self.explorer.figure(compare)

    def refresh(self) -> None:
        """Redraw the slice, the table and the text from the explorer's state."""
        ex = self.explorer
        compare = self.compare_with.value if self.compare_with.value not in (-1, ex.index) else None
        view = ex.view()
        other = None if compare is None else ex.view(compare)
        from ..report.plots import figure_to_png_bytes

        self.image.value = figure_to_png_bytes(slice_figure([view] + ([] if other is None else [other])), dpi=self.dpi)
        self.table.value = front_html(ex, compare)
        self.text.value = view_html(view, other)
        rule = "" if view.threshold is None else (f" {'>' if view.orientation > 0 else '<'} {view.threshold:.4g}"
                                                  r"\ \Rightarrow\ \text{target class}")
        self.latex.value = f"$${view.latex}{rule}$$"
        for k, name in enumerate(ex.names):
            self.sliders[name].disabled = k in ex.pair

    def export(self, which: int | None = None, directory: str | Path | None = None) -> dict[str, Any]:
        """``Explorer.export``; the export button writes to export_dir/formula-<#> (default ./symgrad-exports)."""
        out = self.explorer.export(which, directory)
        if "files" in out:
            files = ", ".join(f"<code>{html.escape(str(p))}</code>" for p in out["files"])
            self.message.value = f"exported #{self.explorer.index if which is None else which} to {files}" + (
                f"<br>{html.escape(out['rule_error'])}" if "rule_error" in out else "")
        return out

    def _export_selected(self) -> None:
        folder = (self.export_dir or Path.cwd() / "symgrad-exports") / f"formula-{self.explorer.index}"
        try:
            self.export(directory=folder)
        except OSError as error:
            self.message.value = html.escape(f"could not write {folder}: {error}")

    def _update(self, change: Callable[..., Any], *args: Any) -> None:
        if self._quiet:
            return
        try:
            change(*args)
        except SymgradError as error:
            self.message.value = html.escape(str(error))
            return
        self.refresh()

    def _axis(self, which: int, change: dict) -> None:
        """A new input on one axis; choosing the other axis's input swaps the two."""
        if self._quiet:
            return
        pair = list(self.explorer.pair)
        new = change["new"]
        if new == pair[1 - which]:
            pair[1 - which] = pair[which]
        pair[which] = new
        # the other dropdown follows without redrawing twice
        self._quietly(lambda: setattr(self.x_axis, "value", pair[0]), lambda: setattr(self.y_axis, "value", pair[1]))
        self._update(self.explorer.set_pair, *pair)

    def _reset(self) -> None:
        self.explorer.reset_values()
        self._quietly(*(lambda k=k, name=name: setattr(self.sliders[name], "value", float(self.explorer.values[k]))
                        for k, name in enumerate(self.explorer.names)))
        self.refresh()

    def _quietly(self, *changes: Callable[[], Any]) -> None:
        """Set controls without their callbacks redrawing."""
        self._quiet = True
        try:
            for change in changes:
                change()
        finally:
            self._quiet = False

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.box._repr_mimebundle_(**kwargs) or {}
        bundle["text/plain"] = FRONTEND_NOTE
        return bundle


def explore(result: Any, *, static: bool = False, resolution: int = RESOLUTION,
            export_dir: str | Path | None = None) -> ExplorerWidget | Explorer:
    """The interactive explorer of ``result`` (``Result.explore``).

    Args:
        result: a ``symgrad.Result`` with its network and gradient samples.
        static: show the report's figures instead of widgets, as where ipywidgets is missing.
        resolution: grid points per axis of a slice.
        export_dir: where the export button writes (default: ./symgrad-exports).

    Returns:
        An ``ExplorerWidget`` (displays itself in Jupyter); in the static case, the ``Explorer``
        after displaying the figures, with one line saying so.
    """
    explorer = Explorer(result, resolution=resolution)
    if not static and ipywidgets_module() is not None:
        return ExplorerWidget(explorer, export_dir=export_dir)
    print(STATIC_NOTE if not static else "The static figures (explore(static=False) for the interactive explorer).")
    _display(*result.figures().values())
    return explorer


def _display(*objects: Any) -> None:
    try:
        from IPython.display import display
    except ImportError:
        return
    display(*objects)
