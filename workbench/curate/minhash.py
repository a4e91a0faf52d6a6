"""Vectorized MinHash signatures that are bit-identical to datasketch's (scheme "affine32").

datasketch hashes one document at a time in Python. Here each shingle is hashed once
(xxh32), then the permutations for a whole chunk of documents are one numpy expression
(`fmix32(h) * a + b`, wrapping in uint32 exactly as datasketch does) and the per-document
minimum is a `np.minimum.reduceat`. The result is the same `hashvalues` that
`datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)` would compute, so the
signatures wrap into `LeanMinHash` objects for datasketch's `MinHashLSH` index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import xxhash
from datasketch import LeanMinHash, MinHash

from workbench.curate.text import normalize

EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's "empty" value for affine32
_FMIX = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))


def shingle_hash(b: bytes) -> int:
    """The 32-bit shingle hash (also usable as datasketch's `hashfunc`)."""
    return xxhash.xxh32_intdigest(b)


def shingles(text: str, n: int = 5) -> list[str]:
    """Word n-grams of the normalized text; a text shorter than n words is one shingle."""
    ws = normalize(text).split()
    if len(ws) <= n:
        return [" ".join(ws)] if ws else []
    return [" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]


def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters for this seed."""
    perm = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return perm[0].astype(np.uint32), perm[1].astype(np.uint32)


def _fmix32(h: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s3)


def signatures(
    texts: Iterable[str],
    num_perm: int = 128,
    n: int = 5,
    seed: int = 1,
    chunk_shingles: int = 250_000,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """A (documents × num_perm) uint32 matrix of MinHash values; empty texts get all EMPTY."""
    a, b = permutations(num_perm, seed)
    rows: list[np.ndarray] = []
    hashes: list[int] = []
    counts: list[int] = []

    def flush():
        if not counts:
            return
        sig = np.full((len(counts), num_perm), EMPTY, dtype=np.uint32)
        nonempty = np.flatnonzero(np.asarray(counts) > 0)
        if len(nonempty):
            hv = _fmix32(np.asarray(hashes, dtype=np.uint32))
            with np.errstate(over="ignore"):
                phv = hv[:, None] * a[None, :] + b[None, :]  # uint32 arithmetic wraps, as in datasketch
            starts = np.concatenate([[0], np.cumsum(np.asarray(counts)[nonempty])[:-1]])
            sig[nonempty] = np.minimum.reduceat(phv, starts, axis=0)
        rows.append(sig)
        if progress:
            progress(len(counts))
        hashes.clear()
        counts.clear()

    for text in texts:
        sh = shingles(text, n)
        hashes.extend(xxhash.xxh32_intdigest(s.encode("utf-8")) for s in sh)
        counts.append(len(sh))
        if len(hashes) >= chunk_shingles:
            flush()
    flush()
    return np.concatenate(rows) if rows else np.zeros((0, num_perm), dtype=np.uint32)


def datasketch_signature(text: str, num_perm: int = 128, n: int = 5, seed: int = 1) -> np.ndarray:
    """The per-record datasketch path (reference and baseline): same shingles, same hash."""
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash, scheme="affine32")
    for s in shingles(text, n):
        m.update(s.encode("utf-8"))
    return m.hashvalues


def lean(sig: np.ndarray, seed: int = 1) -> LeanMinHash:
    return LeanMinHash(seed=seed, hashvalues=sig, scheme="affine32")


def jaccard(sig: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Estimated Jaccard between one signature and each row of `others`."""
    return (others == sig[None, :]).mean(axis=1)


class UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx != ry:  # the smaller index becomes the root: deterministic
            if ry < rx:
                rx, ry = ry, rx
            self.parent[ry] = rx

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            out.setdefault(self.find(i), []).append(i)
        return [g for g in out.values() if len(g) > 1]


def near_duplicate_groups(
    sigs: np.ndarray,
    threshold: float,
    bands: int,
    rows: int,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[list[int]]:
    """Groups of document indexes linked by LSH candidates whose estimated Jaccard >= threshold.

    Candidates come from datasketch's MinHashLSH (bands × rows); each candidate pair is
    verified on the signatures before union-find joins it, so a chance band collision
    between two unrelated documents does not merge their clusters.
    """
    from datasketch import MinHashLSH

    num_perm = bands * rows
    if sigs.shape[1] != num_perm:
        raise ValueError(f"signatures have {sigs.shape[1]} values, bands × rows = {num_perm}")
    lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))
    valid = np.flatnonzero((sigs != EMPTY).any(axis=1))
    uf = UnionFind(len(sigs))
    for i in valid:
        m = lean(sigs[i], seed)
        cands = [c for c in lsh.query(m)]
        if cands:
            cands = np.asarray(sorted(cands))
            sims = jaccard(sigs[i], sigs[cands])
            for c in cands[sims >= threshold]:
                uf.union(int(c), int(i))
        lsh.insert(int(i), m, check_duplication=False)
        if progress:
            progress(1)
    return uf.groups()


def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's choice of (bands, rows) for a threshold, equal weights on FP and FN."""
    from datasketch.lsh import _optimal_param

    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def as_texts(records: Sequence, field: str) -> list[str]:
    if field == "prompt":
        return [r.prompt() for r in records]
    if field == "assistant":
        return [r.assistant_text() for r in records]
    return [r.text() for r in records]
