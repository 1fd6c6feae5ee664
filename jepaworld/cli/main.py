"""The ``jepaworld`` command. Sub-commands live one per file in this folder."""

from __future__ import annotations

import logging
import os

# The command writes figures to files, never to a window: matplotlib's file-only backend unless the user chose
# one (set before anything imports matplotlib; the library itself never switches the backend).
os.environ.setdefault("MPLBACKEND", "Agg")

import typer  # noqa: E402

from jepaworld.cli import collect, data, demo, memory, train  # noqa: E402
from jepaworld.cli.distill import distill_cmd  # noqa: E402
from jepaworld.cli.errors import set_verbose  # noqa: E402
from jepaworld.cli.eval import eval_cmd  # noqa: E402
from jepaworld.cli.mcp import mcp_cmd  # noqa: E402
from jepaworld.cli.offline_eval import offline_eval_cmd  # noqa: E402
from jepaworld.cli.probe import probe_cmd  # noqa: E402
from jepaworld.cli.report import report_cmd  # noqa: E402
from jepaworld.cli.rollout_error import rollout_error_cmd  # noqa: E402
from jepaworld.cli.serve import serve_cmd  # noqa: E402
from jepaworld.cli.structure import structure_cmd  # noqa: E402
from jepaworld.cli.surprise import surprise_cmd  # noqa: E402

app = typer.Typer(
    name="jepaworld",
    help="JEPA world models from pixels: collect data, train, plan toward goal images, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("collect")(collect.collect)
app.add_typer(data.app, name="data")
app.command("train")(train.train)
app.command("eval")(eval_cmd)
app.command("offline-eval")(offline_eval_cmd)
app.command("distill")(distill_cmd)
app.command("demo")(demo.demo)
app.command("rollout-error")(rollout_error_cmd)
app.command("probe")(probe_cmd)
app.command("surprise")(surprise_cmd)
app.command("serve")(serve_cmd)
app.command("mcp")(mcp_cmd)
app.command("structure")(structure_cmd)
app.command("report")(report_cmd)
app.add_typer(memory.app, name="memory")


@app.callback()
def _main(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Log debug messages; show the traceback of an internal error."
    ),
) -> None:
    set_verbose(verbose)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # -v: jepaworld's own debug messages, not those of every library it imports (matplotlib, h5py...)
    logging.getLogger("jepaworld").setLevel(logging.DEBUG if verbose else logging.WARNING)


if __name__ == "__main__":
    app()
