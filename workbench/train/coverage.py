"""What a training budget covers of its data: steps, rows and tokens seen, and for a removal how
many of the removed rows a run would have seen.

Pure functions of the row ids, their token counts, the seed and the budget. The numbers are exact
for the keyed data order (workbench.train.order) and the Trainer's schedule: an epoch is
ceil(rows / batch_size) micro-batches, an optimizer step takes grad_accum of them (the last step
of an epoch takes what is left), and a run stops after its steps. Data-parallel training (world
processes) is counted as one batch of batch_size x world.

A budget is given as one of: `max_steps` (> 0), `max_tokens` (> 0: the fewest steps whose rows,
in keyed order, hold that many tokens, each row counted up to max_length), or `epochs`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from workbench.train.order import ordered_ids

MAX_EPOCHS = 10_000  # a token budget that needs more passes than this is refused


def steps_per_epoch(n_rows: int, batch_size: int, grad_accum: int = 1) -> int:
    """Optimizer steps in one pass over `n_rows` rows (as transformers' Trainer counts them)."""
    batches = math.ceil(n_rows / batch_size)
    return max(math.ceil(batches / grad_accum), 1)


def rows_per_epoch(n_rows: int, steps: int, batch_size: int, grad_accum: int = 1) -> list[int]:
    """Rows seen in each epoch a run of `steps` steps enters (the last one may be partial)."""
    per_epoch = steps_per_epoch(n_rows, batch_size, grad_accum)
    out, left = [], steps
    while left > 0 and n_rows > 0:
        s = min(left, per_epoch)
        out.append(min(s * grad_accum * batch_size, n_rows))
        left -= s
    return out


def steps_for_tokens(record_ids: Sequence[str], tokens: Mapping[str, int], seed: int, max_tokens: int,
                     batch_size: int, grad_accum: int = 1) -> int:
    """The fewest optimizer steps after which a run with `seed` has seen `max_tokens` tokens."""
    if max_tokens <= 0:
        raise ValueError("max_tokens must be positive")
    if not record_ids or sum(tokens[r] for r in record_ids) <= 0:
        raise ValueError("no tokens to train on")
    per_step = batch_size * grad_accum
    seen, steps = 0, 0
    for epoch in range(MAX_EPOCHS):
        order = ordered_ids(record_ids, seed, epoch)
        for start in range(0, len(order), per_step):
            steps += 1
            seen += sum(tokens[r] for r in order[start:start + per_step])
            if seen >= max_tokens:
                return steps
    raise ValueError(f"max_tokens {max_tokens} needs more than {MAX_EPOCHS} passes over the data")


def budget_steps(record_ids: Sequence[str], tokens: Mapping[str, int], seed: int, batch_size: int,
                 grad_accum: int = 1, max_steps: int = -1, epochs: float = 1.0, max_tokens: int | None = None) -> int:
    """The optimizer steps of a run under its budget (max_steps, else max_tokens, else epochs)."""
    if max_steps > 0:
        return max_steps
    if max_tokens:
        return steps_for_tokens(record_ids, tokens, seed, max_tokens, batch_size, grad_accum)
    return math.ceil(epochs * steps_per_epoch(len(record_ids), batch_size, grad_accum))


@dataclass(frozen=True)
class Coverage:
    """What one run sees of its rows."""

    rows: int
    tokens: int
    steps: int
    passes: list[int]  # rows seen in each epoch the run enters
    seen: frozenset[str] = field(repr=False)  # ids seen at least once
    seen_tokens: int  # tokens of the rows seen at least once
    trained_tokens: int  # tokens trained on, repeats counted

    @property
    def row_share(self) -> float:
        return len(self.seen) / self.rows if self.rows else 0.0

    @property
    def token_share(self) -> float:
        return self.seen_tokens / self.tokens if self.tokens else 0.0

    @property
    def epochs(self) -> float:
        """Passes over the data, in rows (1.0: every row once)."""
        return sum(self.passes) / self.rows if self.rows else 0.0

    def as_dict(self) -> dict:
        return {"rows": self.rows, "tokens": self.tokens, "steps": self.steps, "passes": list(self.passes),
                "rows_seen": len(self.seen), "row_share": round(self.row_share, 4),
                "tokens_seen": self.seen_tokens, "token_share": round(self.token_share, 4),
                "trained_tokens": self.trained_tokens, "epochs": round(self.epochs, 4)}


def coverage(record_ids: Sequence[str], tokens: Mapping[str, int] | None, seed: int, steps: int,
             batch_size: int, grad_accum: int = 1) -> Coverage:
    """The rows and tokens a run of `steps` steps with `seed` sees (tokens None: every row counts 1)."""
    weight = tokens if tokens is not None else dict.fromkeys(record_ids, 1)
    seen: set[str] = set()
    trained = 0
    passes = rows_per_epoch(len(record_ids), steps, batch_size, grad_accum)
    for epoch, n in enumerate(passes):
        window = ordered_ids(record_ids, seed, epoch)[:n] if n < len(record_ids) else list(record_ids)
        seen.update(window)
        trained += sum(weight[r] for r in window)
    return Coverage(len(record_ids), sum(weight[r] for r in record_ids), steps, passes, frozenset(seen),
                    sum(weight[r] for r in seen), trained)


@dataclass(frozen=True)
class RemovalCoverage:
    """How many of the rows a variant removed from its parent the parent's run would have seen."""

    removed: int
    in_window: int  # removed rows inside the parent run's seen window (at the same seed and budget)

    @property
    def verdict(self) -> str:
        """covered (every removed row is seen), partial, or none (the budget cannot measure it)."""
        if self.removed == 0 or self.in_window == self.removed:
            return "covered"
        return "none" if self.in_window == 0 else "partial"


def removal_coverage(parent: Coverage, removed_ids: Sequence[str]) -> RemovalCoverage:
    """A removed row would have been seen if its key rank among the parent's rows falls within the
    rows the parent's run sees: so many rows of the difference between the variants are trained on."""
    removed = set(removed_ids)
    return RemovalCoverage(len(removed), len(removed & parent.seen))
