"""The ``pendling`` command line: a thin layer over the Python API.

Each sub-command (group) lives in its own module, listed in :data:`COMMANDS` and imported only when
that command runs or shows its own help: ``pendling --help`` imports typer alone, ``pendling compute
--help`` does not import routing, plotting or geopandas (start-up in a fraction of a second, and a
command from a missing extra fails on its own, with the install hint, without breaking the rest).
"""

from __future__ import annotations

from pendling.cli._threads import polars_threads_from_argv

polars_threads_from_argv()  # must run before anything imports polars (--threads for Polars)

import importlib  # noqa: E402
from typing import Any  # noqa: E402

import typer  # noqa: E402
from typer.core import TyperArgument, TyperGroup, TyperOption  # noqa: E402

# typer (0.29) puts a Python type in angle brackets in the help's type column of every parameter that
# has no metavar: '<bool>' beside every flag (--help and --version too), '<int>', '<str>', '<path>',
# '<list[str]>', '<error|drop|first>'. Help shows what to type instead: nothing beside a flag, the
# choices as a|b, else an upper-case word (INTEGER, TEXT, PATH) as click always did.
_TYPE_WORDS = {"int": "INTEGER", "int range": "INTEGER", "float": "FLOAT", "float range": "FLOAT",
               "str": "TEXT", "text": "TEXT", "path": "PATH", "bool": "BOOLEAN", "uuid": "UUID",
               "datetime": "DATETIME"}


def _help_type(param: Any, ctx: Any) -> str | None:
    """What the help shows in the type column of ``param`` (see above)."""
    if param.metavar is not None:
        return param.metavar
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    label = param.display_type(ctx)
    if label.startswith("<") and label.endswith(">"):
        label = label[1:-1]
    if label.startswith("list[") and label.endswith("]"):
        label = label[5:-1]
    word = label if "|" in label else _TYPE_WORDS.get(label, label.upper())
    return word + "..." if param.nargs != 1 else word


TyperOption.display_type_rich = _help_type  # type: ignore[method-assign]
TyperArgument.display_type_rich = _help_type  # type: ignore[method-assign]

# name: (module, attribute, one-line help shown by `pendling --help`). The attribute is a typer app
# (a command group) or a command function. The help line is kept here so the listing needs no
# import; tests/install/test_lean_core.py checks it equals the command's own.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "geo": ("pendling.cli.geo", "app", "The 98 municipalities: list and rebuild from DAGI/DST sources."),
    "roads": ("pendling.cli.roads", "app", "Road graph from OpenStreetMap / vector tiles."),
    "matrix": ("pendling.cli.matrix", "app", "The 98×98 travel-time matrix: build, show, check."),
    "panel": ("pendling.cli.panel", "app", "Register extracts → validated person-year panel with attrition."),
    "compute": ("pendling.cli.compute", "compute",
                "Mean relative change in commute time of movers and job-changers by job group × region."),
    "sensitivity": ("pendling.cli.sensitivity", "sensitivity",
                    "Run the headline cells and the 2019→2021 contrasts under every method choice."),
    "plot": ("pendling.cli.plot", "plot",
             "Line figure: mean relative change in commute time per year by job group, or commuting distance."),
    "map": ("pendling.cli.plot", "map_",
            "Map the travel-time matrix: a choropleth from one municipality (--from) or the heatmap (--matrix)."),
    "synth": ("pendling.cli.synth", "synth",
              "Write synthetic DST-style register extracts (one file per year) with planted, known effects."),
    "cache": ("pendling.cli.cache", "app", "The validated-panel cache: list, clear."),
}


def load_command(name: str) -> Any:
    """The click command (or group) behind ``pendling <name>``, importing its module."""
    module, attr, short = COMMANDS[name]
    obj = getattr(importlib.import_module(module), attr)
    # registered exactly as an eagerly built app would (a one-command typer app stays a group)
    wrapper = typer.Typer(rich_markup_mode=app.rich_markup_mode)
    wrapper.callback()(lambda: None)
    if isinstance(obj, typer.Typer):
        wrapper.add_typer(obj, name=name, help=short)
    else:
        wrapper.command(name)(obj)
    return typer.main.get_command(wrapper).commands[name]  # type: ignore[attr-defined]


def command_tree() -> Any:
    """The whole click command tree with every command imported (for code that walks it: tests,
    documentation); ``pendling`` itself never needs it."""
    group = typer.main.get_command(app)
    for name in COMMANDS:
        group.add_command(load_command(name), name)  # type: ignore[attr-defined]
    return group


class _LazyGroup(TyperGroup):
    """A typer group whose sub-commands in :data:`COMMANDS` are imported when resolved, not listed."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        # listing for --help: a stand-in carrying the help line (resolve_command loads the real one)
        short = COMMANDS[cmd_name][2]
        return typer.core.TyperCommand(cmd_name, help=short, short_help=short)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in COMMANDS and args[0] not in self.commands:
            self.add_command(load_command(args[0]), args[0])
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="pendling",
    cls=_LazyGroup,
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
