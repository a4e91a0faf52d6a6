"""Shared CLI plumbing: error display, the workspace, tables, and a group with a default command."""

from __future__ import annotations

import importlib
import json
import sys

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from workbench.core.errors import WorkbenchError
from workbench.core.workspace import Workspace

# Piped output (logs, CI, tests) gets a wide fixed width so tables are not folded.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


class UserFacingError(WorkbenchError):
    """Base for errors whose message is the whole story (no traceback for the user)."""


def user_error_types() -> tuple[type[BaseException], ...]:
    """Errors that mean bad input, not a bug: shown as one red line, exit code 2."""
    return (WorkbenchError, FileNotFoundError)


def click_exception_types() -> tuple[type[BaseException], ...]:
    """The usage-error bases of every typer/click we allow.

    typer < 0.2x raises click's own `click.ClickException`; newer typer (0.29 and on) vendors
    click as `typer._click`, whose exceptions are not click's. Both have `.show()` and `.exit_code`.
    """
    types: list[type[BaseException]] = []
    for mod in ("click.exceptions", "typer._click.exceptions"):
        try:
            types.append(importlib.import_module(mod).ClickException)
        except (ImportError, AttributeError):
            pass
    return tuple(types)


def run_cli(app: typer.Typer) -> None:
    try:
        rc = app(standalone_mode=False)
        if isinstance(rc, int) and rc:  # click returns typer.Exit's code instead of exiting
            sys.exit(rc)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("[yellow]interrupted[/]: finished steps are kept; run the same command again to resume")
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 - the one place errors become messages
        if isinstance(e, click_exception_types()):  # usage errors: the usage line, exit 2
            e.show()
            sys.exit(e.exit_code)
        if isinstance(e, user_error_types()):
            err_console.print(f"[bold red]error:[/] {e}", highlight=False)
            sys.exit(2)
        raise


def workspace() -> Workspace:
    return Workspace.default()


def table(title: str | None, columns: list[str], rows: list[list], **kw) -> Table:
    t = Table(title=title, **kw)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    return t


def print_json(obj) -> None:
    """Indented JSON; highlighted on a terminal, plain text (no highlighting pass) into a pipe or file."""
    text = json.dumps(obj, default=str, indent=2, ensure_ascii=False)
    if console.is_terminal:
        console.print_json(text)
    else:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


class DefaultGroup(TyperGroup):
    """A group that runs `default_command` when the first word is not a subcommand.

    Lets `workbench curate VERSION --recipe r.yaml` and `workbench curate report VERSION`
    live side by side.
    """

    default_command = "run"

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        elif not args and self.default_command in self.commands and not self.no_args_is_help:
            args = [self.default_command]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter):
        super().format_usage(ctx, formatter)
