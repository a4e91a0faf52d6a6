"""MinHash near-dedup: vectorized signatures equal datasketch's, clusters and keep rules are deterministic."""

from __future__ import annotations

import numpy as np

from workbench.curate import minhash
from workbench.curate.dedup import ExactDedup, MinHashDedup
from workbench.data.records import make_record

BASE = ("the quick brown fox jumps over the lazy dog while the farmer walks slowly across the wide green "
        "field toward the old red barn near the river bank at the end of a long summer day")


def rec(answer: str, prompt: str = "Tell me a story about a fox and a farmer.", mode=None):
    return make_record([{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
                       reasoning_mode=mode)


TEXTS = [BASE, BASE.upper() + " 42", "short text", "", "one two three four five six seven",
         "Ünïcode ﬁne—dashes_and_underscores, 3.14 «quotes» ΣΊΣΥΦΟΣ", "five words exactly here now"]


def test_vectorized_signatures_equal_datasketch():
    sigs = minhash.signatures(TEXTS, num_perm=64, n=5, chunk_docs=2)  # tiny chunks: several passes
    for t, s in zip(TEXTS, sigs):
        assert np.array_equal(s, minhash.datasketch_signature(t, num_perm=64, n=5)), t
    assert (sigs[3] == minhash.EMPTY).all()


def test_polars_words_and_shingles_match_the_python_definitions():
    from workbench.curate.text import normalize, normalize_exact

    assert minhash.normalized_words(TEXTS).to_list() == [normalize_exact(t).split() for t in TEXTS]
    assert minhash.normalized_words(TEXTS, zero_digits=True).to_list() == [normalize(t).split() for t in TEXTS]
    hashes, counts = minhash.text_shingle_hashes(TEXTS, n=5)
    assert counts.tolist() == [len(minhash.shingles(t, 5)) for t in TEXTS]
    # the same shingle gets the same hash wherever it occurs; different shingles differ
    strings = [s for t in TEXTS for s in minhash.shingles(t, 5)]
    by_string: dict[str, set[int]] = {}
    for s, h in zip(strings, hashes.tolist()):
        by_string.setdefault(s, set()).add(h)
    assert all(len(v) == 1 for v in by_string.values())
    assert len({next(iter(v)) for v in by_string.values()}) == len(by_string)
    # word order inside a shingle matters
    (h1, h2), _ = minhash.text_shingle_hashes(["a b c d e", "e d c b a"], n=5)
    assert h1 != h2


def test_minhash_clusters_keep_rules_and_reasons():
    near = BASE.replace("slowly", "very slowly")
    longest = BASE + " and then it rains"
    other = "photosynthesis turns light water and carbon dioxide into sugar and oxygen inside the leaves of green plants"
    records = [rec(BASE), rec(near), rec(other), rec(longest)]
    res = MinHashDedup().apply(records)
    assert set(res.drops) == {records[1].id, records[3].id}
    v = res.drops[records[1].id]
    assert v.reason == "near_duplicate" and f"duplicate of {records[0].id}" in v.detail and "cluster" in v.detail
    [cluster] = res.clusters
    assert cluster["kept"] == records[0].id and len(cluster["members"]) == 3
    # same input -> same result; `longest` keeps the longest member
    assert MinHashDedup().apply(records).drops == res.drops
    res_long = MinHashDedup(MinHashDedup.Params(keep="longest")).apply(records)
    assert records[3].id not in res_long.drops and records[0].id in res_long.drops


def test_exact_dedup_normalizes_but_keeps_digits_and_mode():
    a = rec("The answer is 5 apples.")
    b = rec("the answer is   5 apples", prompt="tell me a story about a fox and a farmer")
    c = rec("The answer is 6 apples.")
    d = rec("The answer is 5 apples.", mode="no_think")
    res = ExactDedup().apply([a, b, c, d])
    assert set(res.drops) == {b.id} and res.drops[b.id].reason == "exact_duplicate_conversation"


def test_union_find_is_transitive_and_ordered():
    uf = minhash.UnionFind(5)
    uf.union(4, 2)
    uf.union(2, 3)
    assert uf.groups() == [[2, 3, 4]]
