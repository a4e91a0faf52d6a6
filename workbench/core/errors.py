"""The one error base: every error that means bad input or an impossible request (not a bug).

The CLI shows a `WorkbenchError` as one red line and exits 2; anything else is a bug and keeps
its traceback. Each area subclasses it (RecordError, RecipeError, SuiteError, ...), and a
message says what is wrong and where: file:line, record id, or config key path.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Bad input or an impossible request; the message is the whole story."""


class ConfigError(WorkbenchError, ValueError):
    """A YAML/JSON config (recipe, spec, suite, train config, mix) that does not validate."""


class DiskFullError(WorkbenchError, OSError):
    """No space left on the device while writing a workspace file; the message names the path.

    Raised before the catalog row that would point at the file is written, so the catalog is
    unchanged; once space is freed, the same command resumes (see workbench/core/diskfull.py)."""

    def __str__(self) -> str:  # the message alone: it names the path itself
        return self.strerror or super().__str__()
