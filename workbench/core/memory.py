"""The memory budget a job runs within: `workbench ablate --memory-budget` (the CLI puts it in
WORKBENCH_MEMORY_BUDGET, so every task process and worker reads the same), by default the memory
the machine has available when asked. Training fits its micro-batch to it (workbench.ablate.memory)
and evaluation its likelihood batches (workbench.evals.decode)."""

from __future__ import annotations

import os
import re

from workbench.core.errors import ConfigError

BUDGET_ENV = "WORKBENCH_MEMORY_BUDGET"
HEADROOM = 0.85  # a plan fills at most this share of the budget (the estimates ran ~12% under measured peaks)
_UNITS = {"": 2**20, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6, "mib": 2**20,
          "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}


def parse_size(text: str) -> float:
    """A memory size in MiB: '3GiB', '3G', '2500MiB', '512M'; a bare number is MiB."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    unit = m.group(2).lower() if m else None
    if m is None or unit not in _UNITS or float(m.group(1)) <= 0:
        raise ValueError(f"not a memory size: {text!r} (e.g. 3GiB, 2500MiB; a bare number is MiB)")
    return float(m.group(1)) * _UNITS[unit] / 2**20


def budget_mb(error: type[ConfigError] = ConfigError) -> float:
    """The budget in MiB: WORKBENCH_MEMORY_BUDGET if set (a bad value raises `error` naming it),
    else the memory available now."""
    text = os.environ.get(BUDGET_ENV)
    if text:
        try:
            return parse_size(text)
        except ValueError as e:
            raise error(f"{BUDGET_ENV}: {e}") from None
    import psutil

    return psutil.virtual_memory().available / 2**20


def rss_mb() -> float:
    """This process's resident memory now, MiB."""
    import psutil

    return psutil.Process().memory_info().rss / 2**20
