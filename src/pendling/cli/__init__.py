"""The ``pendling`` command line: a thin layer over the Python API.

Each sub-command group lives in its own module and is registered here.
"""

from __future__ import annotations

import typer

from pendling.cli import geo as _geo

app = typer.Typer(
    name="pendling",
    help="Commute-time mobility engine for Danish register data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(_geo.app, name="geo", help="The 98 municipalities: list and rebuild from DAGI/DST sources.")


def main() -> None:
    app()
