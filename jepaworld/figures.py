"""Saving matplotlib figures atomically (a reader never sees a half-written PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from jepaworld.atomic import atomic_path  # noqa: E402


def save_figure(fig: Figure, out_png: str | Path, dpi: int = 100) -> Path:
    """Lay out, write ``out_png`` atomically, and close the figure."""
    out = Path(out_png)
    fig.tight_layout()
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
    return out
