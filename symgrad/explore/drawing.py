"""The matplotlib figure of a slice: one panel per ``SliceView`` (the selected entry, and a compared
one beside it), the network's probability and boundary under the formula's."""

from __future__ import annotations

import numpy as np

from .views import SliceView


def slice_figure(views: list[SliceView]):
    """One panel per view, side by side: the network's probability of the target class (colour),
    its decision boundary (black), the formula's (red dashed), the held-out disagreements (gold x)."""
    from matplotlib.lines import Line2D

    from ..report.plots import InlineFigure

    fig = InlineFigure(figsize=(4.6 * len(views) + 1.0, 4.4), layout="constrained")
    axes = fig.subplots(1, len(views), squeeze=False)[0]
    for ax, view in zip(axes, views):
        a, b = view.a, view.b
        half_a, half_b = (a[-1] - a[0]) / (2 * (len(a) - 1)) or 0.5, (b[-1] - b[0]) / (2 * (len(b) - 1)) or 0.5
        image = ax.imshow(view.probability, vmin=0.0, vmax=1.0, cmap="RdBu_r", origin="lower", aspect="auto",
                          interpolation="nearest", extent=(a[0] - half_a, a[-1] + half_a, b[0] - half_b, b[-1] + half_b))
        if view.margin.min() < 0 < view.margin.max():
            ax.contour(a, b, view.margin, levels=[0.0], colors="k", linewidths=1.5)
        g = view.formula
        finite = np.isfinite(g)
        # the level must lie inside the finite range, else matplotlib warns and draws nothing
        if view.threshold is not None and finite.any() and g[finite].min() < view.threshold < g[finite].max():
            ax.contour(a, b, np.ma.masked_invalid(g), levels=[view.threshold], colors="tab:red", linewidths=1.8,
                       linestyles="--")
        if len(view.disagreements):
            ax.scatter(view.disagreements[:, 0], view.disagreements[:, 1], marker="X", s=28, c="gold",
                       edgecolors="k", linewidths=0.5)
        ax.set_xlim(a[0] - half_a, a[-1] + half_a)
        ax.set_ylim(b[0] - half_b, b[-1] + half_b)
        ax.set_xlabel(view.names[0])
        ax.set_ylabel(view.names[1])
        expression = view.expression if len(view.expression) <= 60 else view.expression[:57] + "..."
        agreement = "" if view.agreement is None else (f"\nagreement {100 * view.agreement:.1f}%, "
                                                       f"{len(view.disagreements)} disagreements (projected)")
        ax.set_title(f"#{view.index}: {expression}{agreement}", fontsize=8)
    fig.colorbar(image, ax=list(axes), label="network p(target class)")
    handles = [Line2D([], [], color="k", lw=1.5), Line2D([], [], color="tab:red", lw=1.8, ls="--"),
               Line2D([], [], color="gold", marker="X", markeredgecolor="k", markeredgewidth=0.5, ls="")]
    fig.legend(handles, ["network boundary", "formula boundary", "held-out disagreement"], loc="outside lower center",
               ncol=3, fontsize=8, frameon=False)
    return fig
