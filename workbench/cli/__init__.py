"""The `workbench` command line: a thin layer that parses, calls the library, and prints.

Each area has its own module here with a Typer app; this file only mounts them. The areas are
imported statically, so a broken import fails loudly instead of hiding a command.
"""

from __future__ import annotations

import typer

from workbench.cli import ablate as _ablate
from workbench.cli import app as _app
from workbench.cli import compare as _compare
from workbench.cli import curate as _curate
from workbench.cli import data as _data
from workbench.cli import doctor as _doctor
from workbench.cli import evals as _evals
from workbench.cli import maintenance as _maintenance
from workbench.cli import mix as _mix
from workbench.cli import models as _models
from workbench.cli import report as _report
from workbench.cli import synth as _synth
from workbench.cli import train as _train
from workbench.cli.common import run_cli

# command name -> area module; a module whose app defines a single default command with
# subcommands uses DefaultGroup (see common.py) so `workbench curate VERSION` and
# `workbench curate report VERSION` both work.
AREAS = {
    "data": _data, "curate": _curate, "synth": _synth, "mix": _mix, "models": _models, "train": _train,
    "eval": _evals, "compare": _compare, "ablate": _ablate, "report": _report, "app": _app,
}

# defined after the imports: importing the submodule workbench.cli.app binds this package's `app` name
app = typer.Typer(
    name="workbench",
    help="Curate, synthesize, version, train and compare SFT data variants for small language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for _command, _module in AREAS.items():
    app.add_typer(_module.app, name=_command)
_maintenance.register(app)  # top-level `workbench gc` and `workbench verify`
_doctor.register(app)  # top-level `workbench doctor`


def main() -> None:
    run_cli(app)


if __name__ == "__main__":
    main()
