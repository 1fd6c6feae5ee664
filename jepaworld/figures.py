"""Figures written to files: built with matplotlib's object API on an Agg canvas, saved atomically (a reader
never sees a half-written PNG). Importing this module leaves matplotlib's backend alone (a notebook keeps
its own); the ``jepaworld`` command sets ``MPLBACKEND=Agg`` for figures made through pyplot.

    fig, ax = subplots(1, 2, figsize=(8, 3))      # a Figure with an Agg canvas, unknown to pyplot
    save_figure(fig, "OUT/x.png")
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from jepaworld.atomic import atomic_path


def subplots(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    """``plt.subplots`` without pyplot: ``kwargs`` split between :class:`Figure` (``figsize``, ``dpi``,
    ``layout``) and :meth:`Figure.subplots` (the rest); returns ``(fig, axes)``."""
    fig_keys = {"figsize", "dpi", "layout", "facecolor", "constrained_layout", "tight_layout"}
    fig = Figure(**{k: v for k, v in kwargs.items() if k in fig_keys})
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **{k: v for k, v in kwargs.items() if k not in fig_keys})


def save_figure(fig: Figure, out_png: str | Path, dpi: int = 100) -> Path:
    """Lay out, write ``out_png`` atomically, and close the figure (if pyplot made it)."""
    out = Path(out_png)
    fig.tight_layout()
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        if "matplotlib.pyplot" in sys.modules:  # a pyplot figure stays open until closed; ours are never opened
            sys.modules["matplotlib.pyplot"].close(fig)
    return out
