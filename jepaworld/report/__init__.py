# The report: each result as one Table (table.py) drawn for the terminal (terminal.py) and as one HTML page.
"""``jepaworld report``: one self-contained HTML page of a run.

    write_report(run)      # RUN/report.html; build_report(run) -> the HTML text

Each result type turns its ``results.json`` into :class:`~jepaworld.report.table.Table` objects once
(``evals.py``, ``science.py``, ``offline.py``); ``terminal.py`` draws them for the CLI, ``html.py`` for the
page, which ``page.py`` assembles (``training.py``: the config and training sections).
"""

from jepaworld.report.page import build_report, write_report

__all__ = ["build_report", "write_report"]
