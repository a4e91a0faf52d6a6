"""MinHash near-dedup: vectorized signatures equal datasketch's, clusters and keep rules are deterministic."""

from __future__ import annotations

import numpy as np

from workbench.curate import minhash
from workbench.curate.dedup import ExactDedup, MinHashDedup
from workbench.records import make_record

BASE = ("the quick brown fox jumps over the lazy dog while the farmer walks slowly across the wide green "
        "field toward the old red barn near the river bank at the end of a long summer day")


def rec(answer: str, prompt: str = "Tell me a story about a fox and a farmer.", mode=None):
    return make_record([{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
                       reasoning_mode=mode)


def test_vectorized_signatures_equal_datasketch():
    texts = [BASE, BASE.upper() + " 42", "short text", "", "one two three four five six seven"]
    sigs = minhash.signatures(texts, num_perm=64, n=5, chunk_shingles=7)  # tiny chunks: flush paths
    for t, s in zip(texts, sigs):
        assert np.array_equal(s, minhash.datasketch_signature(t, num_perm=64, n=5)), t
    assert (sigs[3] == minhash.EMPTY).all()


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
