"""Headless matplotlib figures of a run: front, values, decision slices, relevance, training."""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import Callable, Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from ..errors import SymgradError

# Figures are built with the object API (no pyplot): no global state, nothing left open, no
# display needed; the Agg canvas is attached by Figure itself.
_MAX_SCATTER = 5000
# rendered figures that many runs of one process share (the training curves of a network
# interpreted neuron by neuron in a batch), by content key; a few networks at a time
_PNG_CACHE: "OrderedDict[str, bytes]" = OrderedDict()
_PNG_CACHE_SIZE = 8


class InlineFigure(Figure):
    """A matplotlib Figure that shows itself as a PNG in Jupyter (``_repr_png_``), with or
    without pyplot's inline backend, and only once."""

    def _repr_png_(self) -> bytes:
        return figure_to_png_bytes(self)


def figure_to_png_bytes(fig: Figure, dpi: int = 100, *, crop: bool = False) -> bytes:
    """Render a figure to PNG bytes.

    Args:
        fig: the figure; the figures of this module are already laid out (``tight_layout``).
        dpi: pixels per inch.
        crop: shrink the image to what is drawn (``bbox_inches="tight"``): for a figure
            whose size is not known in advance, e.g. a formula. It costs a second layout pass
            (about a third of the rendering time of a report's figure), so laid-out figures
            are saved at their own size.
    """
    buffer = io.BytesIO()
    # no metadata: the same figure gives the same bytes, whatever the matplotlib version
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight" if crop else None, metadata={"Software": None})
    return buffer.getvalue()


def cached_png(key: str, draw: Callable[[], Figure]) -> bytes:
    """PNG bytes of the figure ``draw()`` makes, drawn once per process for each ``key``.

    Args:
        key: identifies the figure's content completely (e.g. a digest of its data).
        draw: makes the figure; called only when ``key`` has not been rendered yet.
    """
    png = _PNG_CACHE.get(key)
    if png is None:
        png = figure_to_png_bytes(draw())
        _PNG_CACHE[key] = png
        if len(_PNG_CACHE) > _PNG_CACHE_SIZE:
            _PNG_CACHE.popitem(last=False)
    else:
        _PNG_CACHE.move_to_end(key)
    return png


def pareto_plot(complexities: Sequence[int], losses: Sequence[float], selected_index: int | None = None,
                labels: Sequence[str] | None = None) -> InlineFigure:
    """Held-out alignment loss against complexity for the formulas of a front.

    Args:
        complexities: (m,) node counts.
        losses: (m,) held-out losses L = mean(1 - |cos|); shown on a log axis.
        selected_index: position of the chosen formula, highlighted; None for no highlight.
        labels: optional (m,) formula strings. The points are then numbered by their position
            (the ``#`` of the report's front table), where a number fits without overlapping
            another, and the formulas are listed under the axes by number (at most
            ``_KEY_ROWS``, the chosen one always).
    """
    c = np.asarray(complexities, dtype=np.float64).ravel()
    loss = np.asarray(losses, dtype=np.float64).ravel()
    if c.shape != loss.shape:
        raise SymgradError(f"pareto_plot got {c.shape[0]} complexities and {loss.shape[0]} losses; "
                           "give one per formula")
    if labels is not None and len(labels) != c.shape[0]:
        raise SymgradError(f"pareto_plot got {len(labels)} labels for {c.shape[0]} formulas; give one per formula")
    if selected_index is not None and not 0 <= selected_index < c.shape[0]:
        raise SymgradError(f"selected_index {selected_index} is outside the front of {c.shape[0]} formulas")
    key = [] if labels is None else _pareto_key(labels, selected_index)
    key_height = _KEY_LINE_INCHES * len(key) + (0.15 if key else 0.0)
    height = 4.5 + key_height
    fig = InlineFigure(figsize=(7, height))
    ax = fig.add_subplot()
    ok = np.isfinite(c) & np.isfinite(loss)
    positive = loss[ok & (loss > 0)]
    # A perfect fit (L = 0) still needs a place on the log axis.
    floor = positive.min() / 10.0 if positive.size else 1e-6
    shown = np.where(ok, np.maximum(loss, floor), np.nan)
    order = np.argsort(np.where(ok, c, np.inf), kind="stable")
    ax.step(c[order][ok[order]], shown[order][ok[order]], where="post", color="0.6", lw=1)
    ax.scatter(c[ok], shown[ok], color="tab:blue", zorder=3, label="front")
    clipped = ok & (loss < floor)
    if clipped.any():
        ax.scatter(c[clipped], shown[clipped], marker="v", s=70, color="tab:green", zorder=4,
                   label="L = 0 (drawn at the floor)")
    if selected_index is not None and ok[selected_index]:
        ax.scatter([c[selected_index]], [shown[selected_index]], s=160, facecolors="none",
                   edgecolors="tab:red", linewidths=2, zorder=4, label="chosen")
    if ok.any():
        ax.set_yscale("log")
        # plain "1e-05" labels: mathtext powers of ten cost a third of the figure's rendering
        ax.yaxis.set_major_formatter(LogFormatter())
        ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
    ax.set_xlabel("complexity (nodes)")
    ax.set_ylabel("held-out loss  1 - mean|cos|")
    ax.set_title("Pareto front" + (" (numbers: the formulas listed below)" if key else ""))
    ax.grid(True, alpha=0.3)
    legend = ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout(rect=(0, key_height / height, 1, 1))
    if key:
        # placed after the layout: the numbers are checked for overlap where they are drawn
        _number_points(ax, c, shown, ok, selected_index, avoid=legend)
        # parse_math off: a "$" in a user's column name is not the start of a formula
        fig.text(0.02, (key_height - 0.1) / height, "\n".join(key), family="monospace", fontsize=7, va="top",
                 parse_math=False)
    return fig


# The key under a Pareto plot: 7-point monospace fits about 115 characters in the figure's 7 inches.
_KEY_ROWS = 12
_KEY_CHARS = 105
_KEY_LINE_INCHES = 0.125


def _pareto_key(labels: Sequence[str], selected_index: int | None) -> list[str]:
    """Lines ``"#i  formula"`` for at most ``_KEY_ROWS`` formulas, simplest first and the chosen one
    always, each cut to ``_KEY_CHARS`` characters; a last line counts those left out."""
    shown = list(range(min(len(labels), _KEY_ROWS)))
    if selected_index is not None and selected_index not in shown:
        shown[-1] = selected_index
    lines = []
    for i in shown:
        text = " ".join(str(labels[i]).split())
        line = f"#{i:<3d} {text}"
        lines.append(line if len(line) <= _KEY_CHARS else line[:_KEY_CHARS - 3] + "...")
    if len(labels) > len(shown):
        lines.append(f"... {len(labels) - len(shown)} more formulas, not listed")
    return lines


def _number_points(ax, c: np.ndarray, shown: np.ndarray, ok: np.ndarray, selected_index: int | None,
                   avoid) -> None:
    """Write each point's index beside it, on the first side where it overlaps neither the legend
    nor a number already written; a point with no free side stays unnumbered. The chosen point is
    numbered first, so it always is."""
    renderer = FigureCanvasAgg(ax.figure).get_renderer()  # what savefig draws with
    taken = [avoid.get_window_extent(renderer)]
    indices = [int(i) for i in np.flatnonzero(ok)]
    if selected_index is not None and selected_index in indices:
        indices.remove(selected_index)
        indices.insert(0, selected_index)
    sides = ((4, 3, "left", "bottom"), (4, -3, "left", "top"), (-4, 3, "right", "bottom"), (-4, -3, "right", "top"))
    for i in indices:
        for dx, dy, ha, va in sides:
            number = ax.annotate(str(i), (c[i], shown[i]), xytext=(dx, dy), textcoords="offset points",
                                 ha=ha, va=va, fontsize=8)
            box = number.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in taken):
                taken.append(box)
                break
            number.remove()


def value_plot(neuron_values: np.ndarray, formula_values: np.ndarray) -> InlineFigure:
    """Neuron value against formula value; a monotone curve means f = phi(g).

    Args:
        neuron_values: (n,) neuron values f(x).
        formula_values: (n,) formula values g(x) at the same points; non-finite rows are dropped.
    """
    f = np.asarray(neuron_values, dtype=np.float64).ravel()
    g = np.asarray(formula_values, dtype=np.float64).ravel()
    if f.shape != g.shape:
        raise SymgradError(f"value_plot got {f.shape[0]} neuron values and {g.shape[0]} formula values; "
                           "give one of each per point")
    ok = np.flatnonzero(np.isfinite(f) & np.isfinite(g))
    if ok.size > _MAX_SCATTER:  # keep the PNG light; a fixed stride is deterministic
        ok = ok[:: int(np.ceil(ok.size / _MAX_SCATTER))]
    fig = InlineFigure(figsize=(5.5, 4.5))
    ax = fig.add_subplot()
    ax.scatter(g[ok], f[ok], s=4, alpha=0.5, color="tab:blue", rasterized=True)
    ax.set_xlabel("formula value g(x)")
    ax.set_ylabel("neuron value f(x)")
    dropped = f.shape[0] - int(np.sum(np.isfinite(f) & np.isfinite(g)))
    ax.set_title("neuron vs formula" + (f" ({dropped} non-finite dropped)" if dropped else ""))
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def boundary_slices(predict_net: Callable[[np.ndarray], np.ndarray],
                    formula_value: Callable[[np.ndarray], np.ndarray], threshold: float,
                    x_ref: np.ndarray, pairs: Sequence[tuple[int, int]], feature_names: Sequence[str],
                    resolution: int = 80) -> InlineFigure:
    """2-D slices of the network's decision and the formula's boundary {g = threshold}.

    Each panel varies inputs (i, j) over the range of ``x_ref`` and holds the others at their
    medians. Colour: the network's class-1 probability; solid black: p = 0.5; dashed red: the
    formula's level set g = threshold.

    Args:
        predict_net: maps (n, d) raw inputs to (n,) class-1 probabilities.
        formula_value: maps (n, d) raw inputs to (n,) formula values.
        threshold: level of g that is the formula's decision boundary.
        x_ref: (m, d) reference data for the medians and ranges.
        pairs: input index pairs, one panel each.
        feature_names: d names for the axes.
        resolution: grid points per axis.
    """
    x_ref = np.asarray(x_ref, dtype=np.float64)
    d = len(feature_names)
    if x_ref.ndim != 2 or x_ref.shape[1] != d:
        raise SymgradError(f"x_ref has shape {x_ref.shape}; expected (m, {d}) for features {list(feature_names)}")
    pairs = [tuple(int(k) for k in p) for p in pairs]
    if not pairs:
        raise SymgradError("boundary_slices got no pairs; give at least one (i, j) input pair")
    for i, j in pairs:
        if not (0 <= i < d and 0 <= j < d) or i == j:
            raise SymgradError(f"pair ({i}, {j}) is not two different input indices in 0..{d - 1}")
    median = np.median(x_ref, axis=0)
    lo, hi = x_ref.min(axis=0), x_ref.max(axis=0)
    # every panel's grid in one array: the network and the formula are evaluated once each
    axes_values, grids = [], []
    for i, j in pairs:
        a, b = np.linspace(lo[i], hi[i], resolution), np.linspace(lo[j], hi[j], resolution)
        A, B = np.meshgrid(a, b)
        grid = np.tile(median, (A.size, 1))
        grid[:, i], grid[:, j] = A.ravel(), B.ravel()
        axes_values.append((a, b, A, B))
        grids.append(grid)
    stacked = np.concatenate(grids)
    probs = np.asarray(predict_net(stacked), dtype=np.float64).reshape(len(pairs), resolution, resolution)
    values = np.asarray(formula_value(stacked), dtype=np.float64).reshape(len(pairs), resolution, resolution)
    ncols = min(3, len(pairs))
    nrows = int(np.ceil(len(pairs) / ncols))
    fig = InlineFigure(figsize=(4.6 * ncols, 4.0 * nrows))
    for k, (i, j) in enumerate(pairs):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        a, b, A, B = axes_values[k]
        prob, g = probs[k], values[k]
        # a regular grid: an image (one bitmap) draws far faster than a mesh of quads; each
        # pixel is centred on its grid point, as pcolormesh's "nearest" shading would place it
        half_a = (a[-1] - a[0]) / (2 * (resolution - 1)) if resolution > 1 and a[-1] > a[0] else 0.5
        half_b = (b[-1] - b[0]) / (2 * (resolution - 1)) if resolution > 1 and b[-1] > b[0] else 0.5
        image = ax.imshow(prob, vmin=0.0, vmax=1.0, cmap="RdBu_r", origin="lower", aspect="auto",
                          interpolation="nearest",
                          extent=(a[0] - half_a, a[-1] + half_a, b[0] - half_b, b[-1] + half_b))
        if prob.min() < 0.5 < prob.max():
            ax.contour(A, B, prob, levels=[0.5], colors="k", linewidths=1.5)
        finite = np.isfinite(g)
        # Contouring needs the level inside the finite range, else matplotlib warns and draws nothing.
        if finite.any() and g[finite].min() < threshold < g[finite].max():
            ax.contour(A, B, np.ma.masked_invalid(g), levels=[threshold], colors="tab:red",
                       linewidths=1.5, linestyles="--")
        ax.set_xlabel(feature_names[i])
        ax.set_ylabel(feature_names[j])
        ax.set_title(f"{feature_names[i]} vs {feature_names[j]}", fontsize=9)
        fig.colorbar(image, ax=ax, label="network p(class 1)")
    # one line fits two or more panels; a single panel is too narrow for it
    sep = " " if ncols > 1 else "\n"
    fig.suptitle(f"network p = 0.5 (black) vs formula boundary (red dashed);{sep}other inputs at their medians",
                 fontsize=9)
    fig.tight_layout()
    return fig


def tradeoff_plot(series: Mapping[str, Sequence[Sequence[float]]], chosen: tuple[float, float] | None = None
                  ) -> InlineFigure:
    """Agreement with the network's decisions against size, one line per family.

    Args:
        series: family name -> [(nodes, agreement), ...]; each is drawn as the best agreement
            reached at or below each size (what the family can do within that size).
        chosen: (nodes, agreement) of the chosen formula, circled.
    """
    fig = InlineFigure(figsize=(7, 4.2))
    ax = fig.add_subplot()
    for name, points in series.items():
        rows = sorted((float(n), float(a)) for n, a in points if n is not None and a is not None)
        if not rows:
            continue
        nodes = np.array([r[0] for r in rows])
        best = np.maximum.accumulate(np.array([r[1] for r in rows]))
        ax.step(nodes, 100 * best, where="post", lw=1.5, label=name)
        ax.scatter(nodes, 100 * np.array([r[1] for r in rows]), s=12)
    if chosen is not None:
        ax.scatter([chosen[0]], [100 * chosen[1]], s=160, facecolors="none", edgecolors="black", lw=1.5, zorder=4,
                   label="chosen formula")
    ax.set_xscale("log")
    ax.set_xlabel("size (nodes of the expression or tree)")
    ax.set_ylabel("agreement with the network (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("What each extra node buys")
    fig.tight_layout()
    return fig


def relevance_plot(scores: Sequence[float], names: Sequence[str]) -> InlineFigure:
    """Horizontal bars of per-input relevance (mean |normalised gradient component|), largest on top."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.shape[0] != len(names):
        raise SymgradError(f"relevance_plot got {scores.shape[0]} scores for {len(names)} names; give one per input")
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")[::-1]
    fig = InlineFigure(figsize=(6, max(2.0, 0.35 * len(names) + 1.2)))
    ax = fig.add_subplot()
    ax.barh([str(names[k]) for k in order], scores[order], color="tab:blue")
    # two lines: long input names leave the bars too narrow for the label on one
    ax.set_xlabel("relevance:\nmean |normalised gradient component|")
    ax.set_title("input relevance")
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def training_curves(history: Mapping[str, Sequence[float]]) -> InlineFigure:
    """Training and validation loss, and validation accuracy, per epoch.

    Args:
        history: lists per epoch under ``train_loss``, ``val_loss`` and ``val_accuracy``;
            missing keys are left out of the plot.
    """
    known = ("train_loss", "val_loss", "val_accuracy")
    unknown = sorted(set(history) - set(known))
    if unknown:
        raise SymgradError(f"history has unknown key {unknown[0]!r}; allowed keys are {list(known)}")
    fig = InlineFigure(figsize=(9, 3.8))
    ax_loss = fig.add_subplot(1, 2, 1)
    ax_acc = fig.add_subplot(1, 2, 2)
    for key, style in (("train_loss", "-"), ("val_loss", "--")):
        values = list(history.get(key) or [])
        if values:
            ax_loss.plot(np.arange(1, len(values) + 1), values, style, label=key.replace("_", " "))
    accuracy = list(history.get("val_accuracy") or [])
    if accuracy:
        ax_acc.plot(np.arange(1, len(accuracy) + 1), accuracy, color="tab:green", label="val accuracy")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
