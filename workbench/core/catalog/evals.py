"""Catalog rows for evals: suite aggregates (eval_results) and per-item samples (eval_samples).

Each result stores its metrics' direction (`higher_is_better`: {metric: bool}, from
`evals.scoring.higher_is_better`); one stored before that column existed reads `{}`, and
readers fall back to `evals.scoring.directions`. A result's id is its cache key, so writing the same result twice replaces it (idempotent)
and looking it up answers "was this already evaluated?". Readers accept a model key, the
target as asked (bundled name, directory, hub id) or a run id, and use the newest result.
"""

from __future__ import annotations

from typing import Any

from workbench.core.catalog.base import from_json, now, to_json

RESULT_COLUMNS = ("id", "model_key", "target", "run_id", "suite", "layer", "suite_hash", "settings", "n_items",
                  "metrics", "primary_metric", "gen_tokens", "wall_s", "created", "higher_is_better", "likelihood_s")
JSON_COLUMNS = ("settings", "metrics", "higher_is_better")


class EvalsMixin:
    def save_eval_result(self, result: dict[str, Any], samples: list[dict[str, Any]]) -> None:
        """Write one suite result and its items in one transaction (replacing an earlier copy)."""
        row = {"created": now(), **result}
        with self.connect() as con:
            con.execute("DELETE FROM eval_samples WHERE result_id = ?", [row["id"]])
            con.execute("DELETE FROM eval_results WHERE id = ?", [row["id"]])
            con.execute(
                f"INSERT INTO eval_results ({', '.join(RESULT_COLUMNS)}) VALUES ({', '.join('?' for _ in RESULT_COLUMNS)})",
                [to_json(row.get(c)) if c in JSON_COLUMNS else row.get(c) for c in RESULT_COLUMNS],
            )
            con.executemany(
                "INSERT INTO eval_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [[row["id"], str(s["item_id"]), row["model_key"], row["suite"], row["layer"], s.get("prompt"),
                  s.get("response"), to_json(s.get("scores") or {})] for s in samples],
            )

    @staticmethod
    def _result_row(row: dict) -> dict:
        row = dict(row)
        row["settings"] = from_json(row.get("settings")) or {}
        row["metrics"] = from_json(row.get("metrics")) or {}
        row["higher_is_better"] = from_json(row.get("higher_is_better")) or {}
        return row

    def get_eval_result(self, result_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM eval_results WHERE id = ?", [result_id])
        return self._result_row(rows[0]) if rows else None

    def eval_results(self, model_key: str | None = None) -> list[dict[str, Any]]:
        """Suite aggregates, newest first; for one model key / target / run id when given."""
        if model_key is None:
            rows = self.query("SELECT * FROM eval_results ORDER BY created DESC")
        else:
            rows = self.query(
                "SELECT * FROM eval_results WHERE model_key = ? OR target = ? OR run_id = ? ORDER BY created DESC",
                [model_key, model_key, model_key],
            )
        return [self._result_row(r) for r in rows]

    def eval_samples(self, model_key: str, suite: str, layer: str = "smoke") -> list[dict[str, Any]]:
        """Per-item rows (item_id, prompt, response, scores dict) of the newest matching result."""
        found = self.query(
            "SELECT id FROM eval_results WHERE (model_key = ? OR target = ? OR run_id = ?) AND suite = ? AND layer = ? "
            "ORDER BY created DESC LIMIT 1",
            [model_key, model_key, model_key, suite, layer],
        )
        if not found:
            return []
        return self.result_samples(found[0]["id"])

    def result_samples(self, result_id: str) -> list[dict[str, Any]]:
        """Per-item rows (item_id, prompt, response, scores dict) of one result, by its id."""
        rows = self.query(
            "SELECT result_id, item_id, model_key, suite, layer, prompt, response, scores FROM eval_samples "
            "WHERE result_id = ? ORDER BY item_id",
            [result_id],
        )
        for r in rows:
            r["scores"] = from_json(r["scores"]) or {}
        return rows

    def eval_model_keys(self, target: str) -> list[str]:
        """Model keys stored for a target or run id, newest first."""
        rows = self.query(
            "SELECT model_key, max(created) AS t FROM eval_results WHERE model_key = ? OR target = ? OR run_id = ? "
            "GROUP BY model_key ORDER BY t DESC",
            [target, target, target],
        )
        return [r["model_key"] for r in rows]

    def results_samples(self, result_ids: list[str], text: bool = True) -> dict[str, list[dict[str, Any]]]:
        """`result_samples` of many results in one query: result id -> its rows, ordered by item id
        (prompt and response left out, as None, unless `text`)."""
        if not result_ids:
            return {}
        cols = "result_id, item_id, prompt, response, scores" if text else "result_id, item_id, NULL, NULL, scores"
        with self.connect(write=False) as con:
            rows = con.execute(f"SELECT {cols} FROM eval_samples WHERE result_id IN (SELECT unnest(?::VARCHAR[])) "
                               "ORDER BY result_id, item_id", [list(result_ids)]).fetchall()
        out: dict[str, list[dict[str, Any]]] = {rid: [] for rid in result_ids}
        loads = from_json
        for rid, item, prompt, response, scores in rows:
            out[rid].append({"item_id": item, "prompt": prompt, "response": response, "scores": loads(scores) or {}})
        return out

    def get_eval_results(self, result_ids: list[str]) -> dict[str, dict[str, Any]]:
        """`get_eval_result` of many results in one query: result id -> row (missing ids left out)."""
        if not result_ids:
            return {}
        rows = self.query("SELECT * FROM eval_results WHERE id IN (SELECT unnest(?::VARCHAR[]))", [list(result_ids)])
        return {r["id"]: self._result_row(r) for r in rows}

    def sample_texts(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
        """(result id, item id) -> (prompt, response) for the given items, in one query ('' where NULL)."""
        if not keys:
            return {}
        rows = self.query(
            "SELECT s.result_id, s.item_id, s.prompt, s.response FROM eval_samples s "
            "JOIN (SELECT unnest(?::VARCHAR[]) AS r, unnest(?::VARCHAR[]) AS i) k ON s.result_id = k.r AND s.item_id = k.i",
            [[r for r, _ in keys], [str(i) for _, i in keys]],
        )
        return {(r["result_id"], r["item_id"]): (r["prompt"] or "", r["response"] or "") for r in rows}

    @staticmethod
    def _score_columns(con, where: str, params: list) -> tuple[list[str], str, list[str]]:
        """The metric names in the scores of the rows `where` selects, and a SQL column per metric that
        takes its number out of the JSON (a boolean as 0 or 1; text and null as NULL), with its params."""
        keys = [r[0] for r in con.execute(f"SELECT DISTINCT unnest(json_keys(scores)) FROM eval_samples e {where} "
                                          "ORDER BY 1", params).fetchall()]
        paths = ['$."' + k.replace("\\", "\\\\").replace('"', '\\"') + '"' for k in keys]
        cols = "".join(
            ", CASE json_type(e.scores, ?) WHEN 'BOOLEAN' THEN json_extract(e.scores, ?)::BOOLEAN::DOUBLE "
            "WHEN 'DOUBLE' THEN json_extract(e.scores, ?)::DOUBLE WHEN 'BIGINT' THEN json_extract(e.scores, ?)::DOUBLE "
            f"WHEN 'UBIGINT' THEN json_extract(e.scores, ?)::DOUBLE END AS c{i}" for i in range(len(keys)))
        return keys, cols, [p for p in paths for _ in range(5)]

    def results_scores(self, result_ids: list[str]) -> dict[str, dict[str, dict[str, float]]]:
        """result id -> item id -> {metric: score} of many results, in one query: each metric taken
        out of the stored JSON by SQL (numbers, a boolean as 0 or 1; text, null and NaN left out)."""
        out: dict[str, dict[str, dict[str, float]]] = {rid: {} for rid in result_ids}
        if not result_ids:
            return out
        ids = list(out)
        where = "WHERE e.result_id IN (SELECT unnest(?::VARCHAR[]))"
        with self.connect(write=False) as con:
            keys, cols, params = self._score_columns(con, where, [ids])
            table = con.sql(f"SELECT e.result_id, e.item_id{cols} FROM eval_samples e {where} "
                            "ORDER BY e.result_id, e.item_id", params=params + [ids]).to_arrow_table()
        columns = [c.to_pylist() for c in table.columns]
        rids, items, values = columns[0], columns[1], columns[2:]
        for j, (rid, item) in enumerate(zip(rids, items)):
            out[rid][item] = {k: col[j] for k, col in zip(keys, values) if col[j] is not None and col[j] == col[j]}
        return out

    def results_score_arrays(self, result_ids: list[str]) -> tuple[list[str], dict[str, tuple[tuple[str, ...], Any]]]:
        """`results_scores` as columns: (metric names, result id -> (its item ids in Python's sorted order,
        a float64 metrics x items array, NaN where the item has no number for the metric: text, null,
        NaN)). One query read through Arrow, each row's JSON parsed once, each row's result and item as
        a number (their place in the ids given and in the sorted item ids), the rows ordered by numpy:
        no Python object per row. Results with the same items share one tuple."""
        import numpy as np

        ids = list(dict.fromkeys(result_ids))
        if not ids:
            return [], {}
        where = "WHERE e.result_id IN (SELECT unnest(?::VARCHAR[]))"
        with self.connect(write=False) as con:
            keys, _, params = self._score_columns(con, where, [ids])
            names = sorted(r[0] for r in con.execute(f"SELECT DISTINCT e.item_id FROM eval_samples e {where}",
                                                     [ids]).fetchall())
            one = "CASE json_type({0}) WHEN 'BOOLEAN' THEN {0}::BOOLEAN::DOUBLE WHEN 'DOUBLE' THEN {0}::DOUBLE " \
                  "WHEN 'BIGINT' THEN {0}::DOUBLE WHEN 'UBIGINT' THEN {0}::DOUBLE END"
            cols = "".join(f", {one.format(f'x.l[{i + 1}]')}" for i in range(len(keys)))
            sel = "(SELECT unnest(?::VARCHAR[]) AS k, generate_subscripts(?::VARCHAR[], 1) AS code)"  # value -> place
            table = con.sql(f"SELECT r.code, i.code{cols} FROM (SELECT e.result_id, e.item_id, json_extract(e.scores, "
                            f"?::VARCHAR[]) AS l FROM eval_samples e {where}) x JOIN {sel} r ON x.result_id = r.k "
                            f"JOIN {sel} i ON x.item_id = i.k",
                            params=[params[::5] or ['$."-"'], ids, ids, ids, names, names]).to_arrow_table()
        rcode, icode = (_numbers(table.column(j).combine_chunks(), np.int64) for j in (0, 1))
        order = np.lexsort((icode, rcode))
        rcode, icode = rcode[order], icode[order] - 1
        values = (np.vstack([_numbers(c.combine_chunks(), np.float64)[order] for c in table.columns[2:]]) if keys
                  else np.empty((0, len(order)), dtype=float))
        out: dict[str, tuple[tuple[str, ...], Any]] = {rid: ((), values[:, :0]) for rid in ids}
        shared: dict[bytes, tuple[str, ...]] = {}
        cuts = [0, *(np.flatnonzero(np.diff(rcode)) + 1).tolist(), len(order)]
        for start, end in zip(cuts, cuts[1:]):
            if end > start:
                part = icode[start:end]
                its = shared.get(part.tobytes())
                if its is None:
                    its = shared[part.tobytes()] = tuple(names[j] for j in part.tolist())
                out[ids[int(rcode[start]) - 1]] = (its, values[:, start:end])
        return keys, out

    def item_means(self, groups: list[tuple[str, str, str]]) -> dict[tuple[str, str], dict[str, dict[str, float]]]:
        """Per (group, suite): item id -> {metric: mean over the group's results}, aggregated by SQL.
        `groups` are (group, suite, result id) rows (a variant's seeds). A result without a number
        for the metric adds 0 to the mean (as a seed that did not score it), so the mean is the sum
        of the numbers over the item's results; a metric no result scored is left out."""
        out: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
        if not groups:
            return out
        lists = [[g[i] for g in groups] for i in range(3)]
        sel = "(SELECT unnest(?::VARCHAR[]) AS grp, unnest(?::VARCHAR[]) AS suite, unnest(?::VARCHAR[]) AS rid) m"
        with self.connect(write=False) as con:
            keys, cols, params = self._score_columns(con, f"JOIN {sel} ON e.result_id = m.rid", lists)
            sums = "".join(f", sum(c{i}) FILTER (WHERE NOT isnan(c{i})), count(c{i}) FILTER (WHERE NOT isnan(c{i}))"
                           for i in range(len(keys)))
            rows = con.execute(f"SELECT grp, suite, item_id, count(*){sums} FROM (SELECT m.grp, m.suite, e.item_id{cols} "
                               f"FROM eval_samples e JOIN {sel} ON e.result_id = m.rid) GROUP BY ALL",
                               params + lists).fetchall()
        for grp, suite, item, n, *agg in rows:
            out.setdefault((grp, suite), {})[item] = {k: agg[2 * i] / n for i, k in enumerate(keys) if agg[2 * i + 1]}
        return out


def _numbers(arr, dtype):
    """An Arrow array's values as numpy, NaN where null, read from its buffers (pyarrow's `to_numpy`
    imports pandas, half a second the report does not otherwise spend)."""
    import numpy as np

    data = np.frombuffer(arr.buffers()[1], dtype=dtype)[arr.offset:arr.offset + len(arr)]
    if not arr.null_count:
        return data
    valid = np.unpackbits(np.frombuffer(arr.buffers()[0], dtype=np.uint8), bitorder="little")
    return np.where(valid[arr.offset:arr.offset + len(arr)].astype(bool), data, np.nan)
