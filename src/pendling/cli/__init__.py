"""The ``pendling`` command line: a thin layer over the Python API.

Each sub-command group lives in its own module and is registered here.
"""

from __future__ import annotations

from pendling.cli._threads import polars_threads_from_argv

polars_threads_from_argv()  # must run before anything imports polars (--threads for Polars)

import typer  # noqa: E402

from pendling.cli import geo as _geo
from pendling.cli import matrix as _matrix
from pendling.cli import roads as _roads

app = typer.Typer(
    name="pendling",
    help="Commute-time mobility engine for Danish register data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



def _version(value: bool) -> None:
    if value:
        from pendling import __version__

        print(f"pendling {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_version,
                                 is_eager=True),
) -> None:
    """Commute-time mobility engine for Danish register data."""


app.add_typer(_geo.app, name="geo", help="The 98 municipalities: list and rebuild from DAGI/DST sources.")
app.add_typer(_roads.app, name="roads", help="Road graph from OpenStreetMap / vector tiles.")
app.add_typer(_matrix.app, name="matrix", help="The 98×98 travel-time matrix: build, show, check.")

from pendling.cli import panel as _panel  # noqa: E402

app.add_typer(_panel.app, name="panel", help="Register extracts → validated person-year panel with attrition.")

from pendling.cli import compute as _compute  # noqa: E402

app.command("compute")(_compute.compute)

from pendling.cli import sensitivity as _sensitivity  # noqa: E402

app.command("sensitivity")(_sensitivity.sensitivity)

from pendling.cli import plot as _plot  # noqa: E402

app.command("plot")(_plot.plot)
app.command("map")(_plot.map_)

from pendling.cli import synth as _synth  # noqa: E402

app.command("synth")(_synth.synth)


def main(argv: list[str] | None = None) -> None:
    """The ``pendling`` entry point: ``app`` behind the crash handler, so that even an error outside a
    command (option parsing, imports) ends in a short message and exit code 3, never a traceback."""
    try:
        app(args=argv, prog_name="pendling")
    except SystemExit:
        raise
    except (Exception, KeyboardInterrupt) as exc:
        from pendling.cli._crash import crash

        try:
            crash(exc)
        except typer.Exit as done:
            raise SystemExit(done.exit_code) from None
