"""Catalog rows for synthetic generation: the per-prompt generation cache."""

from __future__ import annotations

import pyarrow as pa

from workbench.core.catalog.base import now


class SynthMixin:
    def cached_generations(self, keys: list[str]) -> dict[str, dict]:
        """Generations already stored for these keys (key -> {text, output_tokens})."""
        if not keys:
            return {}
        with self.connect(write=False) as con:
            con.register("wanted", pa.table({"key": keys}))
            rows = con.execute(
                "SELECT g.key, g.text, g.output_tokens FROM synth_generations g JOIN wanted USING (key)"
            ).fetchall()
            con.unregister("wanted")
        return {k: {"text": t, "output_tokens": n} for k, t, n in rows}

    def add_generations(self, rows: list[dict]) -> None:
        """Store one batch of generations (idempotent on key)."""
        if not rows:
            return
        created = now()
        with self.connect() as con:
            con.executemany(
                "INSERT OR IGNORE INTO synth_generations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [r["key"], r["prompt_id"], r["mode"], r["teacher"], r["settings_hash"], r["gen_index"],
                     r["text"], r["output_tokens"], created]
                    for r in rows
                ],
            )
