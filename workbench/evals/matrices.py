"""Per-item scores held as arrays (issue 26): one eval result's items as a metrics x items array, a
variant's seeds on one suite, and the seed x item matrix of one metric that the engine decides on.

  ItemScores   one result: item id -> {metric: score}, read lazily from its array (NaN: not scored);
               equal to the dict the catalog's `results_scores` gives for the same result
  SeedScores   one variant on one suite: seed label -> ItemScores; `metric_scores` and `table`
               give the engine a metric's rows and its seeds x items matrix without a dict per item
  MetricRow    one seed's item id -> score on one metric (the items that have a number)

Each is a read-only Mapping, so code written for the nested dicts (`engine.SeedItems`) reads them
unchanged; the engine takes the arrays where it finds them (`table_of`). `_table`, `_part` and
`_paired_rows` are the engine's matrix helpers for either form.
"""

from __future__ import annotations

from collections.abc import ItemsView, KeysView, Mapping, ValuesView

import numpy as np

from workbench.evals.decide import _common_items, _matrix, _variant_part, seed_components


class Items(tuple):
    """Item ids in sorted order, shared by the results that scored the same items: the item -> column
    index and the subsets with holes (a metric some items lack) are made once per tuple."""

    def positions(self) -> dict:
        got = self.__dict__.get("_positions")
        if got is None:
            got = self.__dict__["_positions"] = {k: j for j, k in enumerate(self)}
        return got

    def subset(self, keep: np.ndarray) -> "Items":
        cache = self.__dict__.setdefault("_subsets", {})
        key = np.packbits(keep).tobytes()
        if key not in cache:
            cache[key] = Items(k for k, on in zip(self, keep.tolist()) if on)
        return cache[key]


class _Indexed(Mapping):
    """A Mapping over an `Items` tuple."""

    _items: Items

    def _index(self) -> dict:
        return self._items.positions()

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, item) -> bool:
        return item in self._index()

    def keys(self):
        return KeysView(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.items())!r})"


class ItemScores(_Indexed):
    """One result's item id -> {metric: score}; `values` is metrics x items (NaN: no number)."""

    def __init__(self, items: Items, metrics: tuple[str, ...], values: np.ndarray):
        self._items, self.metrics, self.values = items, tuple(metrics), values

    def __getitem__(self, item: str) -> dict[str, float]:
        col = self.values[:, self._index()[item]].tolist()
        return {m: x for m, x in zip(self.metrics, col) if x == x}

    def items(self):
        rows = self.values.T.tolist()
        return _Pairs(self, [(k, {m: x for m, x in zip(self.metrics, r) if x == x}) for k, r in zip(self._items, rows)])

    def row(self, metric: str) -> np.ndarray | None:
        return self.values[self.metrics.index(metric)] if metric in self.metrics else None


class MetricRow(_Indexed):
    """One seed's item id -> score on one metric: the items with a number, in the result's order."""

    def __init__(self, items: Items, row: np.ndarray):
        self._items, self.row = items, row
        self._list = row.tolist()

    def __getitem__(self, item: str) -> float:
        return self._list[self._index()[item]]

    def values(self):
        return _Values(self, self._list)

    def items(self):
        return _Pairs(self, list(zip(self._items, self._list)))


class _Values(ValuesView):
    def __init__(self, mapping, values: list):
        super().__init__(mapping)
        self._values = values

    def __iter__(self):
        return iter(self._values)


class _Pairs(ItemsView):
    def __init__(self, mapping, pairs: list):
        super().__init__(mapping)
        self._pairs = pairs

    def __iter__(self):
        return iter(self._pairs)


class SeedScores(Mapping):
    """One variant on one suite: seed label -> ItemScores; a metric's rows and matrix built once."""

    def __init__(self, per_seed: Mapping[str, ItemScores]):
        self._seeds = dict(per_seed)
        self._rows: dict[str, dict[str, MetricRow]] = {}
        self._tables: dict[str, tuple | None] = {}

    def __getitem__(self, seed: str) -> ItemScores:
        return self._seeds[seed]

    def __iter__(self):
        return iter(self._seeds)

    def __len__(self) -> int:
        return len(self._seeds)

    def __repr__(self) -> str:
        return f"SeedScores({self._seeds!r})"

    def metric_scores(self, metric: str) -> dict[str, MetricRow]:
        """`engine.metric_scores`: {seed: {item: score}} of one metric, seeds without it left out."""
        if metric not in self._rows:
            out = {}
            for s, sc in self._seeds.items():
                row = sc.row(metric)
                if row is None:
                    continue
                keep = row == row
                if keep.all():
                    out[s] = MetricRow(sc._items, row)
                elif keep.any():
                    out[s] = MetricRow(sc._items.subset(keep), row[keep])
            self._rows[metric] = out
        return self._rows[metric]

    def table(self, metric: str):
        """`_table` of `metric_scores(metric)`: ({seed: row}, items, seeds x items) when every seed
        scored the same items; the rows stacked from the arrays."""
        if metric not in self._tables:
            rows = self.metric_scores(metric)
            seeds = sorted(rows, key=str)
            if seeds and all(rows[s]._items is rows[seeds[0]]._items for s in seeds[1:]):
                items = rows[seeds[0]]._items
                self._tables[metric] = ({s: i for i, s in enumerate(seeds)}, list(items),
                                        np.array([rows[s].row for s in seeds], dtype=float))
            else:
                self._tables[metric] = _table(rows)
        return self._tables[metric]


def score_tables(keys: list[str], arrays: Mapping[str, tuple]) -> dict[str, ItemScores]:
    """result id -> ItemScores from `Catalog.results_score_arrays`."""
    shared: dict[int, Items] = {}
    for items, _ in arrays.values():
        if id(items) not in shared:
            shared[id(items)] = items if isinstance(items, Items) else Items(items)
    return {rid: ItemScores(shared[id(items)], tuple(keys), values) for rid, (items, values) in arrays.items()}


def table_of(per_seed, scored: Mapping, metric: str):
    """A variant's ({seed: row}, items, seeds x items matrix) of one metric: from its arrays when it
    holds them (SeedScores), else built from the dicts (`_table`)."""
    return per_seed.table(metric) if isinstance(per_seed, SeedScores) else _table(scored)


def _table(scores: Mapping) -> tuple[dict, list[str], np.ndarray] | None:
    """One variant's ({seed: row}, items, seeds x items matrix) when every seed scored the same items."""
    if not scores:
        return None
    seeds = sorted(scores, key=str)
    first = scores[seeds[0]].keys()
    if any(scores[s].keys() != first for s in seeds[1:]):
        return None
    items = sorted(first)
    return {s: i for i, s in enumerate(seeds)}, items, _matrix(scores, items)


def _part(scores: Mapping, table) -> tuple[float, float, int, int] | None:
    """`decide._variant_part` from the variant's matrix when it has one."""
    if table is None or len(scores) < 2 or len(table[1]) < 2:
        return _variant_part(scores) if table is None else None
    between, within = seed_components(table[2])
    return float(between), float(within), len(scores), len(table[1])


def _paired_rows(sa: Mapping, sb: Mapping, ta, tb, seeds: list) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(A, B, unpaired) on `seeds` and the items both scored on every one of them, as `paired_seed_diff`
    builds them; None under 2 such items (that path falls back to the unpaired one)."""
    if ta is not None and tb is not None and (ta[1] is tb[1] or ta[1] == tb[1]):
        return (ta[2][[ta[0][s] for s in seeds]], tb[2][[tb[0][s] for s in seeds]], 0) if len(ta[1]) >= 2 else None
    a, b = {s: sa[s] for s in seeds}, {s: sb[s] for s in seeds}
    items, unpaired = _common_items(a, b)
    return (_matrix(a, items), _matrix(b, items), unpaired) if len(items) >= 2 else None
