"""Progress display shared by long operations, and the quiet console.

- `progress_bar` / `track`: a rich bar on a terminal; inside a task it also reports its count to
  the task's progress file (`report`), so the ablation display shows a child process's steps.
- `task_output(log)`: fd 1 and 2 of this process, and of every child it starts, go to a log file;
  workbench's own `console` still reaches the terminal. Third-party warnings, tqdm bars and
  library chatter land in the log, whose path is shown when the task fails.
- `TaskBoard`: the ablation's display: on a terminal a live line for the running task (its own
  steps or items, elapsed, the ablation's ETA); elsewhere (CI, pipes) one line per finished task.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)
PROGRESS_FILE_ENV = "WORKBENCH_PROGRESS_FILE"  # where a task's own progress goes (set by the runner)
_terminal: TextIO | None = None  # the real stderr while this process's output goes to a task log


def enabled() -> bool:
    stream = _terminal or sys.stderr
    return os.environ.get("WORKBENCH_PROGRESS", "auto") != "0" and (
        stream.isatty() or os.environ.get("WORKBENCH_PROGRESS") == "1"
    )


def fmt_s(s: float) -> str:
    s = int(round(max(0.0, s)))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


_last_report = [0.0]


def report(done: int, total: int | None, unit: str) -> None:
    """Tell the running task's display how far it is (no-op outside an ablation task; throttled)."""
    path = os.environ.get(PROGRESS_FILE_ENV)
    if not path:
        return
    now = time.monotonic()
    if now - _last_report[0] < 0.5 and done != total:
        return
    _last_report[0] = now
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        Path(tmp).write_text(json.dumps({"done": done, "total": total, "unit": unit}))
        os.replace(tmp, path)
    except OSError:  # progress is a nicety: never fail a task for it
        pass


def read_report(path: Path | None) -> dict | None:
    try:
        return json.loads(Path(path).read_text()) if path else None
    except (OSError, ValueError):
        return None


@contextmanager
def progress_bar(description: str, total: int | None = None):
    """Yields an `advance(n=1)` callable; draws a bar when stderr is a terminal."""
    count = [0]

    def tell(n: int = 1) -> None:
        count[0] += n
        report(count[0], total, description)

    if not enabled():
        yield tell
        return
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=False) as prog:
        task = prog.add_task(description, total=total)

        def advance(n: int = 1) -> None:
            tell(n)
            prog.advance(task, n)

        yield advance


def track(items: Iterable, description: str, total: int | None = None) -> Iterator:
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(description, total) as advance:
        for item in items:
            yield item
            advance()


@contextmanager
def task_output(log_path: Path | None, progress_path: Path | None = None):
    """Send fd 1 and 2 (this process's and its children's) to `log_path` while the block runs.

    `console` keeps writing to the terminal. None (verbose) leaves the output alone. The progress
    file's path goes to children through the environment."""
    global _terminal
    env_before = os.environ.get(PROGRESS_FILE_ENV)
    if progress_path is not None:
        os.environ[PROGRESS_FILE_ENV] = str(progress_path)
    if log_path is None:
        try:
            yield
        finally:
            _restore_env(env_before)
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = os.dup(1), os.dup(2)
    outer = _terminal
    term = outer or open(os.dup(saved[1]), "w", buffering=1, encoding="utf-8", errors="replace")
    file_before = console._file
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # Python-level writes too, where sys.stdout/err are not the fds (pytest, notebooks)
    streams = sys.stdout, sys.stderr
    log_stream = open(log_path, "a", buffering=1, encoding="utf-8", errors="replace")
    sys.stdout = sys.stderr = log_stream
    _terminal, console.file = term, term
    try:
        yield
    finally:
        sys.stdout, sys.stderr = streams
        log_stream.close()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        _terminal, console.file = outer, file_before
        if outer is None:
            term.close()
        _restore_env(env_before)


def _restore_env(value: str | None) -> None:
    if value is None:
        os.environ.pop(PROGRESS_FILE_ENV, None)
    else:
        os.environ[PROGRESS_FILE_ENV] = value


@contextmanager
def command_output(ws, command: str, verbose: bool = False):
    """A whole command's library output in one log file (WORKBENCH_HOME/logs/COMMAND-TIME-PID.log),
    its path shown if the command fails; `verbose` leaves everything on the console."""
    log = None if verbose else ws.subdir("logs") / f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    try:
        with task_output(log):
            yield log
    except BaseException:
        if log is not None and log.exists() and log.stat().st_size:
            console.print(f"the libraries' output of this {command}: {log}", highlight=False)
        raise
    finally:
        if log is not None and log.exists() and not log.stat().st_size:
            log.unlink()  # nothing was said: leave no file (a refused input leaves the workspace as it was)
            try:
                log.parent.rmdir()
            except OSError:
                pass  # other logs are there


class TaskBoard:
    """One display for a sequence of tasks. `begin` a task, `end` it with its one-line outcome.

    `eta(fraction, elapsed_in_task)` returns the seconds left in the whole sequence (None: not known);
    `fraction` is the running task's own progress (None when it has not reported)."""

    def __init__(self, interactive: bool | None = None, print_line: Callable[[str], None] | None = None):
        self.interactive = enabled() if interactive is None else interactive
        self.print_line = print_line or (lambda s: console.print(s, highlight=False, markup=False, soft_wrap=True))
        self.t0 = time.monotonic()
        self._prog: Progress | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def begin(self, label: str, progress_path: Path | None, eta: Callable[[float | None, float], float | None]) -> None:
        if not self.interactive:
            return
        self.end_live()
        self._prog = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[count]}"),
                              TimeElapsedColumn(), TextColumn("{task.fields[eta]}"), console=console, transient=True)
        task = self._prog.add_task(label, total=None, count="", eta="")
        self._prog.start()
        self._stop.clear()
        started = time.monotonic()

        def poll() -> None:
            while not self._stop.wait(0.5):
                rep = read_report(progress_path)
                fraction, count, total = None, "", None
                if rep:
                    total = rep.get("total")
                    count = f"{rep['done']}/{total} {rep['unit']}" if total else f"{rep['done']} {rep['unit']}"
                    fraction = rep["done"] / total if total else None
                left = eta(fraction, time.monotonic() - started)
                overall = f"ablation {fmt_s(time.monotonic() - self.t0)}" + (f", ~{fmt_s(left)} left" if left is not None else "")
                self._prog.update(task, total=total, completed=rep["done"] if rep else 0, count=count, eta=overall)

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()

    def end_live(self) -> None:
        if self._thread:
            self._stop.set()
            self._thread.join()
            self._thread = None
        if self._prog:
            self._prog.stop()
            self._prog = None

    def end(self, line: str) -> None:
        self.end_live()
        self.print_line(line)

    def close(self) -> None:
        self.end_live()
