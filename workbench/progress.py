"""Progress display shared by long operations (rich bars on a terminal, quiet otherwise)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


def enabled() -> bool:
    return os.environ.get("WORKBENCH_PROGRESS", "auto") != "0" and (
        sys.stderr.isatty() or os.environ.get("WORKBENCH_PROGRESS") == "1"
    )


@contextmanager
def progress_bar(description: str, total: int | None = None):
    """Yields an `advance(n=1)` callable; draws a bar when stderr is a terminal."""
    if not enabled():
        yield lambda n=1: None
        return
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=False) as prog:
        task = prog.add_task(description, total=total)
        yield lambda n=1: prog.advance(task, n)


def track(items: Iterable, description: str, total: int | None = None) -> Iterator:
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(description, total) as advance:
        for item in items:
            yield item
            advance()
