"""minhash_dedup with `engine: ray`: signatures and band keys as Ray Data map_batches on a local
Ray instance, the grouping on their Parquet; the very clusters, drops and reasons of the local path."""

from __future__ import annotations

import numpy as np

from tests.test_dedup import _corpus, rec
from workbench.curate import banding, minhash
from workbench.curate.dedup import MinHashDedup


def test_ray_data_dedup_gives_the_local_clusters_and_drops(ray_address):
    from workbench.curate import ray_dedup

    texts = _corpus(n_sources=120, seed=7)
    sigs = minhash.signatures(texts, num_perm=100, n=5)
    exact = minhash.ShingleSets(texts, 5).jaccard
    local = banding.cluster_labels(sigs, 0.7, 20, 5, exact=exact)
    labels, ray_sigs = ray_dedup.cluster_labels(texts, 0.7, 20, 5, batch_size=50, exact=exact)  # several batches
    assert np.array_equal(ray_sigs, sigs) and np.array_equal(labels, local)
    assert len(banding.groups_from_labels(local)) > 20

    records = [rec(t, prompt=f"prompt {k % 3}") for k, t in enumerate(texts[:120])]
    here = MinHashDedup(MinHashDedup.Params(field="assistant")).apply(records)
    there = MinHashDedup(MinHashDedup.Params(field="assistant", engine="ray")).apply(records)
    assert there.drops == here.drops and there.clusters == here.clusters and here.drops
