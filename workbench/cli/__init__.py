"""The `workbench` command line: a thin layer that parses, calls the library, and prints.

Each area has its own module here with a Typer app; this file only mounts them.
"""

from __future__ import annotations

import importlib

import typer

from workbench.cli.common import run_cli

app = typer.Typer(
    name="workbench",
    help="Curate, synthesize, version, train and compare SFT data variants for small language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# (module, command name, mount as a group?) — a module whose app defines a single default
# command with subcommands uses DefaultGroup (see common.py) so `workbench curate VERSION`
# and `workbench curate report VERSION` both work.
AREAS = [
    ("data", "data"),
    ("curate", "curate"),
    ("synth", "synth"),
    ("mix", "mix"),
    ("models", "models"),
    ("train", "train"),
    ("evals", "eval"),
    ("compare", "compare"),
    ("ablate", "ablate"),
    ("report", "report"),
    ("app", "app"),
]

_root = app  # importing the submodule workbench.cli.app rebinds this package's `app` name
for module_name, command in AREAS:
    try:
        module = importlib.import_module(f"workbench.cli.{module_name}")
    except ModuleNotFoundError as e:
        if e.name != f"workbench.cli.{module_name}":
            raise
        continue
    sub = getattr(module, "app", None)
    if isinstance(sub, typer.Typer) and (sub.registered_commands or sub.registered_groups or sub.registered_callback):
        _root.add_typer(sub, name=command)
importlib.import_module("workbench.cli.maintenance").register(_root)  # top-level gc, verify
app = _root


def main() -> None:
    run_cli(app)


if __name__ == "__main__":
    main()
