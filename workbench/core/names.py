"""The one rule for user-given names (dataset versions, ablations, variants): one home.

Letters, digits, '_', '-', '.', starting with a letter or digit, at most 64 characters.
So `""`, a 5,000-character name and `../../x'; DROP TABLE versions; --` are refused
before anything is read or written.
"""

from __future__ import annotations

import re

from workbench.core.errors import WorkbenchError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NAME_RULE = "use letters, digits, '_', '-', '.' (at most 64 characters, starting with a letter or digit)"


class InvalidNameError(WorkbenchError, ValueError):
    """A name that breaks the rule; the message shows the name (shortened) and the rule."""


def check_name(name: str, what: str = "--name") -> str:
    """`name` unchanged when it follows the rule, else InvalidNameError naming `what`."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        shown = repr(name) if not isinstance(name, str) or len(name) <= 80 else f"{name[:40]!r}... ({len(name)} characters)"
        raise InvalidNameError(f"{what} {shown}: {NAME_RULE}")
    return name


def name_option(value: str | None) -> str | None:
    """Typer/click callback for a `--name` option: a bad name is a usage error (exit 2)."""
    if value is None:
        return None
    try:
        return check_name(value)
    except InvalidNameError as e:
        import typer

        raise typer.BadParameter(str(e).removeprefix("--name ")) from None
