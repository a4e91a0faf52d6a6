"""Vectorized MinHash signatures on datasketch's scheme ("affine32").

datasketch hashes one shingle at a time in Python. Here a chunk of documents is normalized
and split into words (all-ASCII documents from one byte buffer with a vectorized xxh32, the
others by polars with each distinct word hashed once), and the word hashes are combined into
shingle hashes with numpy. The permutations for the whole chunk are then one numpy
expression (`fmix32(h) * a + b`, wrapping in uint32 exactly as datasketch does) and the
per-document minimum is a `np.minimum.reduceat`. The result is the `hashvalues` that
`datasketch.MinHash(num_perm, seed)` computes when fed the same shingle hashes
(`datasketch_signature`). Candidates come from numpy banding (`banding`); signatures also
wrap into `LeanMinHash` objects for datasketch's `MinHashLSH` (`method="datasketch"`).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import numpy as np
import polars as pl
import xxhash

from workbench.curate import banding
from workbench.curate.text import normalize, normalize_exact


def _datasketch():
    """datasketch when first used: it loads scipy.integrate (about a second) that report and compare never need."""
    import datasketch

    return datasketch


EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's "empty" value for affine32
_FMIX = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16))
_GOLDEN = np.uint32(0x9E3779B1)  # odd multiplier that orders the words inside a shingle


def shingles(text: str, n: int = 5, zero_digits: bool = False) -> list[str]:
    """Word n-grams of the normalized text; a text shorter than n words is one shingle.

    (The string form of what `shingle_hashes` hashes; used by the datasketch baseline.)"""
    ws = (normalize(text) if zero_digits else normalize_exact(text)).split()
    if len(ws) <= n:
        return [" ".join(ws)] if ws else []
    return [" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]


def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters for this seed."""
    perm = _datasketch().MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return perm[0].astype(np.uint32), perm[1].astype(np.uint32)


def _fmix32(h: np.ndarray) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s3)


_NO_SPACE_CLASS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
_NO_SPACE_CHAR = "[" + _NO_SPACE_CLASS + "]"


def normalized_words(texts: Sequence[str], zero_digits: bool = False) -> pl.Series:
    """Each text's words after `text.normalize_exact` (NFKC, lowercase, no punctuation; with
    `zero_digits`, `text.normalize`: every digit becomes 0), as a polars list column: one
    vectorized pass instead of a regex loop per document."""
    series = pl.Series(texts, dtype=pl.String).fill_null("")
    non_ascii = series.str.contains(r"[^\x00-\x7F]")  # NFKC leaves ASCII as it is: skip the common case
    if non_ascii.any():
        idx = non_ascii.arg_true()
        series = series.scatter(idx, series.gather(idx).str.normalize("NFKC"))
    series = series.str.to_lowercase()
    if zero_digits:
        series = series.str.replace_all(r"\d", "0")
    # runs of word characters other than "_": the same words as replacing punctuation and "_"
    # with spaces and splitting, in one regex pass; each character of a script written without
    # spaces (Chinese, Japanese kana, Thai...) is a word of its own, as in `text.word_tokens`
    return series.str.extract_all(_NO_SPACE_CHAR + "|" + r"[^\W_" + _NO_SPACE_CLASS + "]+")


def word_hashes(words: pl.Series) -> np.ndarray:
    """xxh32 of each word (UTF-8), computed once per distinct word and mapped back in polars."""
    if len(words) == 0:
        return np.zeros(0, dtype=np.uint32)
    vocab = words.unique()
    table = pl.DataFrame({"w": vocab, "h": pl.Series([xxhash.xxh32_intdigest(w.encode("utf-8")) for w in vocab],
                                                      dtype=pl.UInt32)})
    joined = pl.DataFrame({"w": words}).join(table, on="w", how="left", maintain_order="left")
    return joined["h"].to_numpy()


def shingle_hashes(word_hash: np.ndarray, lengths: np.ndarray, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Combine word hashes into one 32-bit hash per n-word shingle, for many documents at once.

    `word_hash` is every document's word hashes back to back, `lengths` the words per document.
    Returns the shingle hashes back to back and the shingles per document (a document shorter
    than n words is one shingle of all its words; an empty one has none)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.uint32), np.zeros(len(lengths), dtype=np.int64)
    doc_len = np.repeat(lengths, lengths)  # each word's document length
    pos = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # position in its document
    padded = np.concatenate([word_hash.astype(np.uint32), np.zeros(n, dtype=np.uint32)])
    combined = padded[:total].copy()
    with np.errstate(over="ignore"):
        for k in range(1, n):
            mixed = _fmix32(combined * _GOLDEN + padded[k : k + total])
            combined = np.where(pos + k < doc_len, mixed, combined)  # short documents stop at their end
    starts = (pos <= doc_len - n) | ((doc_len < n) & (pos == 0))
    counts = np.where(lengths >= n, lengths - n + 1, (lengths > 0).astype(np.int64))
    return combined[starts], counts


def text_shingle_hashes(texts: Sequence[str], n: int = 5, zero_digits: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes and shingles per document for a batch of texts.

    All-ASCII documents take the byte-buffer path (`_ascii_word_hashes`), the others polars;
    the two parts are put back in document order (same values either way)."""
    texts = [t or "" for t in texts]
    is_ascii = np.fromiter((t.isascii() for t in texts), dtype=bool, count=len(texts))
    if is_ascii.all():
        return shingle_hashes(*_ascii_word_hashes(texts, zero_digits), n)
    if is_ascii.any():
        parts = [(idx, text_shingle_hashes([texts[k] for k in idx], n, zero_digits))
                 for idx in (np.flatnonzero(is_ascii), np.flatnonzero(~is_ascii))]
        counts = np.zeros(len(texts), dtype=np.int64)
        for idx, (_, c) in parts:
            counts[idx] = c
        owner = np.concatenate([np.repeat(idx, c) for idx, (_, c) in parts])
        hashes = np.concatenate([h for _, (h, _) in parts])
        return hashes[np.argsort(owner, kind="stable")], counts
    words = normalized_words(texts, zero_digits)
    lengths = words.list.len().fill_null(0).to_numpy().astype(np.int64)
    flat = words.explode().drop_nulls()
    return shingle_hashes(word_hashes(flat), lengths, n)


_P1, _P2, _P3, _P4, _P5 = (np.uint32(p) for p in (2654435761, 2246822519, 3266489917, 668265263, 374761393))
_ASCII_WORD = bytes(1 if chr(c).isascii() and (chr(c).isdigit() or chr(c).islower()) else 0
                    for c in range(256))  # [^\W_] on ASCII after lowercasing: a-z, 0-9
_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")


def _rotl(h: np.ndarray, r: int) -> np.ndarray:
    return (h << np.uint32(r)) | (h >> np.uint32(32 - r))


def _ascii_word_hashes(texts: Sequence[str], zero_digits: bool) -> tuple[np.ndarray, np.ndarray]:
    """The fast path of `normalized_words` + `word_hashes` for an all-ASCII batch.

    On ASCII, NFKC is the identity and the words are the runs of [a-z0-9] after lowercasing,
    so the batch is one byte buffer: `str.lower`, then `bytes.translate` zeroes digits and marks
    word bytes; word boundaries come from a diff, and xxh32 runs vectorized over all words shorter than 16 bytes
    (its short-input branch); longer words go through `xxhash` one by one. Same values as
    `word_hashes(normalized_words(...))`, checked in tests/test_dedup.py."""
    joined = "\x00".join(t or "" for t in texts)
    if not joined.isascii():
        raise ValueError("_ascii_word_hashes needs ASCII texts")
    data = joined.lower().encode("ascii")
    if zero_digits:
        data = data.translate(_ZERO_DIGITS)
    buf = np.frombuffer(data, dtype=np.uint8)
    is_word = np.frombuffer(data.translate(_ASCII_WORD), dtype=np.int8)
    edges = np.diff(is_word, prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    doc_bounds = np.cumsum([0] + [len(t or "") + 1 for t in texts])
    lengths = np.diff(np.searchsorted(starts, doc_bounds)).astype(np.int64)
    size = (ends - starts).astype(np.uint32)
    padded = np.concatenate([buf, np.zeros(16, dtype=np.uint8)])

    def byte(p: np.ndarray) -> np.ndarray:
        return padded[p].astype(np.uint32)

    with np.errstate(over="ignore"):
        h = size + _P5  # xxh32, seed 0, input shorter than 16 bytes
        for k in range(0, 12, 4):
            p = starts + k
            lane = byte(p) | (byte(p + 1) << 8) | (byte(p + 2) << 16) | (byte(p + 3) << 24)
            h = np.where(size >= k + 4, _rotl(h + lane * _P3, 17) * _P4, h)
        p = starts + (size & np.uint32(~3 & 0xFFFFFFFF))
        for t in range(3):
            h = np.where((size & np.uint32(3)) > t, _rotl(h + byte(p + t) * _P5, 11) * _P1, h)
        h ^= h >> np.uint32(15)
        h *= _P2
        h ^= h >> np.uint32(13)
        h *= _P3
        h ^= h >> np.uint32(16)
    for w in np.flatnonzero(size >= 16):
        h[w] = xxhash.xxh32_intdigest(buf[starts[w]:ends[w]].tobytes())
    return h, lengths


def _min_hash(hashes: np.ndarray, counts: np.ndarray, a: np.ndarray, b: np.ndarray,
              block_shingles: int = 4_096) -> np.ndarray:
    """Per-document minimum of the permuted shingle hashes (EMPTY where a document has none).

    Documents go through in blocks of about `block_shingles` shingles, so the
    (permutations × shingles) matrix stays in CPU cache (~1.6 MiB at 100 permutations) instead
    of streaming through memory three times (multiply, add, minimum); it is laid out one
    permutation per row, so each document's minimum is a reduction over contiguous values."""
    sig = np.full((len(counts), len(a)), EMPTY, dtype=np.uint32)
    hv = _fmix32(hashes)
    ends = np.cumsum(counts)
    first, start = 0, 0
    while first < len(counts):
        last = max(first + 1, int(np.searchsorted(ends, start + block_shingles, side="right")))
        end = int(ends[last - 1])
        nonempty = np.flatnonzero(counts[first:last] > 0)
        if len(nonempty):
            phv = np.empty((len(a), end - start), dtype=np.uint32)
            with np.errstate(over="ignore"):
                np.multiply(a[:, None], hv[None, start:end], out=phv)  # uint32 arithmetic wraps, as in datasketch
                phv += b[:, None]
            starts = np.concatenate([[0], np.cumsum(counts[first:last][nonempty])[:-1]])
            sig[first + nonempty] = np.minimum.reduceat(phv, starts, axis=1).T
        first, start = last, end
    return sig


def signature_batch(batch: dict, num_perm: int = 128, n: int = 5, seed: int = 1, zero_digits: bool = False,
                    text_column: str = "text") -> dict:
    """The signature stage over one record batch (a dict of columns, as Ray Data's
    `map_batches` passes with `batch_format="numpy"`): adds a (rows × num_perm) uint32
    `signature` column and keeps the other columns. Pure: the same texts give the same rows
    wherever the batch runs, and equal `signatures` of the same texts."""
    a, b = permutations(num_perm, seed)
    hashes, counts = text_shingle_hashes([str(t) for t in batch[text_column]], n, zero_digits)
    return {**batch, "signature": _min_hash(hashes, counts, a, b)}


def signature_chunks(
    texts: Iterable[str],
    num_perm: int = 128,
    n: int = 5,
    seed: int = 1,
    chunk_docs: int = 2_000,
    zero_digits: bool = False,
    workers: int | None = None,
) -> Iterator[np.ndarray]:
    """The signature rows of `texts`, one (chunk × num_perm) block at a time, in order."""
    a, b = permutations(num_perm, seed)

    def one_chunk(chunk: list[str]) -> np.ndarray:
        hashes, counts = text_shingle_hashes(chunk, n, zero_digits)
        return _min_hash(hashes, counts, a, b)

    # polars and numpy release the GIL, so chunks on a thread per core run in parallel;
    # at most 2 chunks per worker are in flight, so memory stays bounded by the chunk size
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    it = iter(texts)
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        while True:
            while len(pending) < 2 * workers and (chunk := list(islice(it, chunk_docs))):
                pending.append(pool.submit(one_chunk, chunk))
            if not pending:
                break
            yield pending.popleft().result()


def signatures(
    texts: Iterable[str],
    num_perm: int = 128,
    n: int = 5,
    seed: int = 1,
    chunk_docs: int = 2_000,
    progress: Callable[[int], None] | None = None,
    zero_digits: bool = False,
    workers: int | None = None,
) -> np.ndarray:
    """A (documents × num_perm) uint32 matrix of MinHash values; empty texts get all EMPTY.

    Digits are kept unless `zero_digits` (FineWeb's web-text setting): SFT problems that
    differ only in their numbers are different examples. Documents go through in chunks
    (`chunk_docs`), so working memory stays bounded by the chunk; with a sized `texts` the
    rows go straight into the result (no second copy of the matrix while concatenating)."""
    chunks = signature_chunks(texts, num_perm, n, seed, chunk_docs, zero_digits, workers)
    if not isinstance(texts, Sized):
        rows = []
        for block in chunks:
            rows.append(block)
            if progress:
                progress(len(block))
        return np.concatenate(rows) if rows else np.zeros((0, num_perm), dtype=np.uint32)
    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    done = 0
    for block in chunks:
        out[done:done + len(block)] = block
        done += len(block)
        if progress:
            progress(len(block))
    return out


def datasketch_signature(text: str, num_perm: int = 128, n: int = 5, seed: int = 1,
                         zero_digits: bool = False) -> np.ndarray:
    """datasketch's own MinHash fed this text's shingle hashes, one by one (the reference)."""
    m = _datasketch().MinHash(num_perm=num_perm, seed=seed, hashfunc=int, scheme="affine32")
    hashes, _ = text_shingle_hashes([text], n, zero_digits)
    for h in hashes:
        m.update(int(h))
    return m.hashvalues


def datasketch_loop_signature(text: str, num_perm: int = 128, n: int = 5, seed: int = 1,
                              **minhash_kwargs) -> np.ndarray:
    """How a datasketch user writes it: one `MinHash` per record over the shingle strings, with
    datasketch's defaults unless `minhash_kwargs` (e.g. `hashfunc`, `scheme`) say otherwise
    (the benchmark's baselines; same shingles, another hash function)."""
    m = _datasketch().MinHash(num_perm=num_perm, seed=seed, **minhash_kwargs)
    m.update_batch([s.encode("utf-8") for s in shingles(text, n)])
    return m.hashvalues


def lean(sig: np.ndarray, seed: int = 1):  # a datasketch LeanMinHash
    return _datasketch().LeanMinHash(seed=seed, hashvalues=sig, scheme="affine32")


def jaccard(sig: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Estimated Jaccard between one signature and each row of `others`."""
    return (others == sig[None, :]).mean(axis=1)


class ShingleSets:
    """Exact Jaccard between documents' shingle-hash sets (the sets the signatures summarise),
    computed on demand: only candidate pairs estimated just below the threshold ask for it."""

    def __init__(self, texts: Sequence[str], n: int = 5, zero_digits: bool = False):
        self.texts, self.n, self.zero_digits = texts, n, zero_digits
        self._sets: dict[int, np.ndarray] = {}

    def _load(self, docs: np.ndarray) -> None:
        missing = [int(k) for k in np.unique(docs) if int(k) not in self._sets]
        if not missing:
            return
        hashes, counts = text_shingle_hashes([self.texts[k] for k in missing], self.n, self.zero_digits)
        for k, part in zip(missing, np.split(hashes, np.cumsum(counts)[:-1])):
            self._sets[k] = np.unique(part)

    def jaccard(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        self._load(np.concatenate([i, j]))
        out = np.zeros(len(i))
        for k, (a, b) in enumerate(zip(i.tolist(), j.tolist())):
            x, y = self._sets[a], self._sets[b]
            inter = len(np.intersect1d(x, y, assume_unique=True))
            union = len(x) + len(y) - inter
            out[k] = inter / union if union else 0.0
        return out


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
    method: str = "bands",
    max_bucket: int = banding.MAX_BUCKET,
    exact: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    apart: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> list[list[int]]:
    """Groups of document indexes linked by LSH candidates whose estimated Jaccard >= threshold
    (with `exact`, e.g. `ShingleSets(texts).jaccard`: or whose estimate is within
    `banding.RESCUE_MARGIN` below it and exact Jaccard >= threshold; with `apart`, less the
    pairs it marks; see `banding.verified`).

    `method="bands"` (default): numpy banding (`banding.cluster_labels`: band keys grouped by a
    sort, buckets over `max_bucket` members windowed). `method="datasketch"`: datasketch's
    in-memory MinHashLSH (one dict per band; memory grows with the corpus). Either way each
    candidate pair is verified on the signatures before it joins a cluster, so a chance band
    collision between two unrelated documents does not merge their clusters; on buckets up to
    `max_bucket` the two give the same groups (ascending, ordered by their smallest member).
    """
    num_perm = bands * rows
    if sigs.shape[1] != num_perm:
        raise ValueError(f"signatures have {sigs.shape[1]} values, bands × rows = {num_perm}")
    if method == "bands":
        return banding.groups_from_labels(banding.cluster_labels(sigs, threshold, bands, rows, max_bucket, progress,
                                                                 exact, apart))
    if method != "datasketch":
        raise ValueError(f"method must be 'bands' or 'datasketch', got {method!r}")
    from datasketch import MinHashLSH

    lsh = MinHashLSH(num_perm=num_perm, params=(bands, rows))
    valid = np.flatnonzero((sigs != EMPTY).any(axis=1))
    uf = UnionFind(len(sigs))
    for i in valid:
        m = lean(sigs[i], seed)
        cands = [c for c in lsh.query(m)]
        if cands:
            cands = np.asarray(sorted(cands))
            ok = banding.verified(sigs, np.full(len(cands), i), cands, threshold, exact, apart)
            for c in cands[ok]:
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
