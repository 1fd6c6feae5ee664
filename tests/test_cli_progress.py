"""Progress off a terminal (nohup, a log file, CI): plain lines while the work runs, not one bar at the end."""

import io

from rich.console import Console

from jepaworld.cli.progress import LogProgress, make_progress


def log_console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=False, width=80), buf


def test_log_progress_prints_lines_while_running_off_a_terminal():
    console, buf = log_console()
    with LogProgress(console=console, log_every_s=0.0) as progress:
        task = progress.add_task("train", total=4, info="")
        for step in range(1, 4):
            progress.update(task, completed=step, info=f"loss {1 / step:.3f} " + "x" * 100)
            assert f"train {step}/4 ({100 * step // 4}%)" in buf.getvalue()  # printed before the work ends
        progress.update(task, completed=4, info="done")
    lines = [line for line in buf.getvalue().splitlines() if line.startswith("train ")]
    assert "left" in lines[0] and lines[2].endswith("x" * 100)  # a long line is not cut at 80 columns
    assert any(line.startswith("train 4/4 (100%)") and "left" not in line and line.endswith("| done")
               for line in lines)  # fmt: skip
    assert "━" not in buf.getvalue()  # no bar squeezed into 80 columns at the end


def test_log_progress_rate_limits_and_reports_the_end_once():
    console, buf = log_console()
    with LogProgress(console=console, log_every_s=1e9) as progress:
        task = progress.add_task("collect", total=100, rate="")
        for i in range(1, 101):
            progress.update(task, completed=i)
        progress.update(task, completed=100)
    lines = [line for line in buf.getvalue().splitlines() if "elapsed" in line]
    assert [line.split(" ")[1] for line in lines] == ["1/100", "100/100"]  # the first update and the end


def test_no_lines_on_a_terminal():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=80)
    progress = LogProgress(console=console, log_every_s=0.0)
    task = progress.add_task("train", total=2, info="")
    progress.update(task, completed=1)
    assert "elapsed" not in buf.getvalue()
    assert isinstance(make_progress(), LogProgress)  # what the CLI commands draw with
