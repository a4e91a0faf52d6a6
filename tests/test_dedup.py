"""MinHash near-dedup: vectorized signatures equal datasketch's, clusters and keep rules are deterministic."""

from __future__ import annotations

import numpy as np

from workbench.curate import minhash
from workbench.curate.dedup import ExactDedup, MinHashDedup, template_siblings
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


def _sql(table: str) -> str:
    return (f"```sql\nSELECT date_trunc('month', created_at) AS month,\n       count(*) AS n_{table}\nFROM {table}\n"
            "WHERE created_at >= DATE '2025-01-01'\n  AND created_at < DATE '2026-01-01'\nGROUP BY month\n"
            "ORDER BY month DESC;\n```\n\nThe two bounds on `created_at` keep the filter index-friendly instead of "
            "wrapping the column in a function.")


def test_minhash_keeps_template_siblings_and_reasoning_modes_apart():
    def q(t):
        return f"Write a SQL query that counts the {t} per month in 2025, newest month first."

    orders, invoices = rec(_sql("orders"), q("orders")), rec(_sql("invoices"), q("invoices"))
    edited = rec(_sql("orders").replace("keep the", "keep").replace("instead of", "then instead of"), q("orders"))
    think = rec(BASE)
    no_think = rec(BASE, mode="no_think")
    records = [orders, invoices, edited, think, no_think]
    res = MinHashDedup().apply(records)
    # the sibling (one table name changed everywhere) and the other mode are kept; the edited copy is not
    assert set(res.drops) == {edited.id}
    linked = MinHashDedup(MinHashDedup.Params(template_siblings="drop", across_modes=True)).apply(records)
    assert set(linked.drops) == {invoices.id, edited.id, no_think.id}


def test_template_siblings_are_one_value_changed_everywhere():
    a = "count the orders per month from orders where n orders".split()
    assert template_siblings(a, "count the invoices per month from invoices where n invoices".split())
    assert not template_siblings(a, "count the invoices per month from orders where n orders".split())  # not everywhere
    assert not template_siblings(a, "count the invoices per month from invoices where n bills".split())  # two values
    assert not template_siblings(a, "count the invoices per month from invoices n invoices".split())  # a word dropped
    assert not template_siblings("the cat sat on the mat".split(), "the dog sat on the mat".split())  # changed once
    assert not template_siblings(a, list(a))  # no difference at all: an exact copy


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


# ---- numpy banding (workbench.curate.banding) ------------------------------------------

def _corpus(n_sources: int = 150, seed: int = 3) -> list[str]:
    """Sources of 40 random words, each with 0-2 copies at a few word edits, and empty texts."""
    import random

    rng = random.Random(seed)
    vocab = [f"w{i}x" for i in range(400)]
    out = []
    for s in range(n_sources):
        src = [rng.choice(vocab) for _ in range(40)]
        out.append(" ".join(src))
        for _ in range(rng.randint(0, 2)):
            copy = list(src)
            for _ in range(rng.randint(0, 2)):
                copy[rng.randrange(len(copy))] = rng.choice(vocab)
            out.append(" ".join(copy))
        if s % 40 == 0:
            out.append("")
    return out


def test_numpy_banding_gives_datasketch_lsh_groups():
    texts = _corpus()
    sigs = minhash.signatures(texts, num_perm=100, n=5)
    for threshold, bands, rows in [(0.7, 20, 5), (0.5, 10, 10), (0.9, 50, 2)]:
        ours = minhash.near_duplicate_groups(sigs, threshold, bands, rows)
        theirs = minhash.near_duplicate_groups(sigs, threshold, bands, rows, method="datasketch")
        assert ours == theirs and len(ours) > 20, (threshold, bands, rows)


def test_candidate_pairs_all_pairs_in_small_buckets_window_in_giant_ones():
    from workbench.curate import banding

    keys = np.array([7, 3, 7, 9, 7, 3, 7, 7, 1], dtype=np.uint64)  # bucket 7: docs 0,2,4,6,7; bucket 3: 1,5
    i, j = banding.candidate_pairs(keys, max_bucket=100)
    assert sorted(zip(i.tolist(), j.tolist())) == sorted(
        [(0, 2), (0, 4), (0, 6), (0, 7), (2, 4), (2, 6), (2, 7), (4, 6), (4, 7), (6, 7), (1, 5)])
    # max_bucket 3: each member of the 5-member bucket meets only the next 2 (document order)
    i, j = banding.candidate_pairs(keys, max_bucket=3)
    assert sorted(zip(i.tolist(), j.tolist())) == sorted([(0, 2), (0, 4), (2, 4), (2, 6), (4, 6), (4, 7), (6, 7), (1, 5)])


def test_giant_bucket_is_capped_and_still_one_cluster():
    from workbench.curate import banding

    texts = [BASE] * 3000 + _corpus(30)
    sigs = minhash.signatures(texts, num_perm=20, n=5)
    keys = banding.band_keys(sigs, 4, 5)[:, 0]
    i, _ = banding.candidate_pairs(keys, max_bucket=8)
    assert len(i) <= 3000 * 7 + 200  # not 3000²/2 = 4.5M
    groups = minhash.near_duplicate_groups(sigs, 0.7, 4, 5, max_bucket=8)
    assert groups[0] == list(range(3000))
    assert groups == minhash.near_duplicate_groups(sigs, 0.7, 4, 5)  # the window loses no link here


def test_batch_stages_are_pure_and_out_of_core_matches(tmp_path):
    from workbench.curate import banding

    texts = _corpus()
    sigs = minhash.signatures(texts, num_perm=100, n=5)
    keys = banding.band_keys(sigs, 20, 5)
    cuts = [0, 7, 100, 101, 330, len(texts)]
    parts = []
    for lo, hi in zip(cuts, cuts[1:]):
        batch = minhash.signature_batch({"text": np.array(texts[lo:hi], dtype=object), "doc": np.arange(lo, hi)},
                                        num_perm=100, n=5)
        assert np.array_equal(batch["signature"], sigs[lo:hi]) and batch["doc"].tolist() == list(range(lo, hi))
        banded = banding.band_key_batch(batch, 20, 5)
        assert np.array_equal(np.stack([banded[f"band_{b}"] for b in range(20)], axis=1), keys[lo:hi])
        assert banded["empty"].tolist() == [t == "" for t in texts[lo:hi]]
        parts.append(batch["signature"])
    labels = banding.out_of_core_labels(iter(parts), tmp_path / "spill", 0.7, 20, 5)
    assert np.array_equal(labels, banding.cluster_labels(sigs, 0.7, 20, 5))
    assert (tmp_path / "spill" / "band_keys.parquet").exists()


def test_components_label_is_the_smallest_member_in_any_merge_order():
    from workbench.curate import banding

    pairs = [(5, 9), (2, 9), (7, 8), (0, 3), (8, 1)]
    for order in (pairs, pairs[::-1]):
        c = banding.Components(10)
        for a, b in order:
            c.merge(np.array([a]), np.array([b]))
        assert c.labels.tolist() == [0, 1, 2, 0, 4, 2, 6, 1, 1, 2]
        assert c.groups() == [[0, 3], [1, 7, 8], [2, 5, 9]]


def test_ascii_fast_path_equals_the_polars_words():
    long_words = "a" * 15 + " " + "b" * 16 + " " + "C" * 41 + " internationalization1234"
    ascii_texts = ["Hello, World! 123_abc x9", "", "a_b__c\td\ne", long_words, "The 42 cats; 7 dogs.", "x"]
    for zero_digits in (False, True):
        fast = minhash._ascii_word_hashes(ascii_texts, zero_digits)
        words = minhash.normalized_words(ascii_texts, zero_digits)
        assert np.array_equal(fast[0], minhash.word_hashes(words.explode().drop_nulls()))
        assert fast[1].tolist() == words.list.len().to_list()
    # a mixed batch: ASCII documents by bytes, the others by polars, back in document order
    mixed = ascii_texts + TEXTS + ["café au lait, crème brûlée et thé"] + ascii_texts[::-1]
    words = minhash.normalized_words(mixed)
    expected = minhash.shingle_hashes(minhash.word_hashes(words.explode().drop_nulls()),
                                      words.list.len().to_numpy().astype(np.int64), 5)
    got = minhash.text_shingle_hashes(mixed, 5)
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])


def test_exact_rescue_only_adds_pairs_whose_true_jaccard_clears_the_threshold():
    from workbench.curate import banding

    texts = _corpus(n_sources=200, seed=5)
    sigs = minhash.signatures(texts, num_perm=100, n=5)
    sets = minhash.ShingleSets(texts, 5)
    without = minhash.near_duplicate_groups(sigs, 0.7, 20, 5)
    with_exact = minhash.near_duplicate_groups(sigs, 0.7, 20, 5, exact=sets.jaccard)
    # every cluster without the rescue lies inside one cluster with it (pairs are only added)
    label = {d: k for k, g in enumerate(with_exact) for d in g}
    assert all(len({label.get(d) for d in g}) == 1 and label.get(g[0]) is not None for g in without)
    assert with_exact != without  # this corpus has copies estimated just below 0.7
    # a pair the rescue accepts is estimated below the threshold and exactly at or above it
    i, j = banding.candidate_pairs(banding.band_keys(sigs, 20, 5)[:, 0])
    est = (sigs[i] == sigs[j]).mean(axis=1)
    near = (est < 0.7) & (est >= 0.7 - banding.RESCUE_MARGIN)
    ok = banding.verified(sigs, i, j, 0.7, exact=sets.jaccard)
    assert (ok[near] == (sets.jaccard(i[near], j[near]) >= 0.7)).all()
    assert (ok[~near] == (est[~near] >= 0.7)).all()
    # datasketch's LSH path verifies the same way
    assert minhash.near_duplicate_groups(sigs, 0.7, 20, 5, method="datasketch", exact=sets.jaccard) == with_exact
