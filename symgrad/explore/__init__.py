"""Explore a result in Jupyter: the front, any input pair's decision slice, the disagreements and exports.

``Explorer`` holds the state (selected entry, input pair, the other inputs' values) and computes a
``SliceView`` with numpy alone, so tests and scripts drive it without a browser; ``explore`` puts
ipywidgets around it (the report's static figures where ipywidgets is missing); a batch folder's
items open from ``symgrad.explore_batch`` (``symgrad.batch.explorer``). Nothing here trains or searches: the
network is only evaluated, on one grid per slice, and its probabilities are cached.

Modules, each importing only those above it:
    views: ``FrontRow`` and ``SliceView``, the records the explorer computes.
    drawing: ``slice_figure``, the matplotlib figure of one slice or two compared entries.
    state: ``Explorer``, the state without widgets (slices, the network's cached grids, compare, export).
    tables: the HTML of the front coloured by verdict and of the selected entries' verdicts.
    widgets: ``ExplorerWidget``, the ipywidgets controls, the static fallback and ``explore``.
"""

from .drawing import slice_figure
from .state import CACHE_SIZE, RESOLUTION, Explorer
from .tables import VERDICT_COLOURS, front_html, view_html
from .views import FrontRow, SliceView
from .widgets import FRONTEND_NOTE, STATIC_NOTE, ExplorerWidget, explore

__all__ = ["CACHE_SIZE", "Explorer", "ExplorerWidget", "FRONTEND_NOTE", "FrontRow",
           "RESOLUTION", "STATIC_NOTE", "SliceView", "VERDICT_COLOURS", "explore", "front_html",
           "slice_figure", "view_html"]
