"""Near-dedup's batch stages on Ray Data (the `ray` extra): `minhash_dedup` with `engine: ray`.

The signature stage (`minhash.signature_batch`) and the band-key stage
(`banding.band_key_batch`) are pure functions over record batches, so they run as Ray Data
`map_batches` wherever the cluster puts them; their output (document index, signature, one
64-bit key per band) is written as Parquet under a work folder, and the grouping (sort per band,
verify, union-find: `banding`) runs on that Parquet in this process, one band at a time. The
clusters are the local path's: the same pure functions on the same rows (tested).

Without `--address`-style configuration Ray starts a local instance; set `RAY_ADDRESS` to use
a cluster (then the work folder must be on shared storage: `WORKBENCH_HOME` is).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from workbench.curate import banding, minhash
from workbench.core.device import ray_module


def cluster_labels(texts: Sequence[str], threshold: float, bands: int, rows: int, n: int = 5, seed: int = 1,
                   zero_digits: bool = False, workdir: str | Path | None = None, batch_size: int = 4096,
                   exact: Callable | None = None, apart: Callable | None = None,
                   max_bucket: int = banding.MAX_BUCKET) -> tuple[np.ndarray, np.ndarray]:
    """`banding.cluster_labels(minhash.signatures(texts, ...), ...)`, its batch stages on Ray Data:
    (each document's cluster label, the signature matrix)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ray = ray_module()
    if not ray.is_initialized():
        ray.init(log_to_driver=False, configure_logging=False, include_dashboard=False)
    num_perm = bands * rows
    table = pa.table({"doc": np.arange(len(texts), dtype=np.int64), "text": [t or "" for t in texts]})
    ds = ray.data.from_arrow(table)
    ds = ds.map_batches(minhash.signature_batch, batch_format="numpy", batch_size=batch_size,
                        fn_kwargs={"num_perm": num_perm, "n": n, "seed": seed, "zero_digits": zero_digits})
    ds = ds.map_batches(_band_stage, batch_format="numpy", batch_size=batch_size,
                        fn_kwargs={"bands": bands, "rows": rows})
    with tempfile.TemporaryDirectory(prefix="workbench-dedup-", dir=workdir) as tmp:
        ds.write_parquet(tmp)
        keyed = pq.read_table(tmp).sort_by("doc")
    if len(keyed) != len(texts) or not np.array_equal(keyed["doc"].to_numpy(), np.arange(len(texts))):
        raise RuntimeError(f"Ray Data returned {len(keyed)} rows for {len(texts)} documents")
    sigs = np.stack(keyed["signature"].to_numpy(zero_copy_only=False)).astype(np.uint32).reshape(len(texts), num_perm)
    valid = np.flatnonzero(~keyed["empty"].to_numpy())
    comps = banding.Components(len(texts))
    for b in range(bands):
        keys = keyed[f"band_{b}"].to_numpy()[valid]
        banding.link(comps, sigs, keys, valid, threshold, max_bucket, exact, apart)
    return comps.labels, sigs


def _band_stage(batch: dict, bands: int, rows: int) -> dict:
    out = banding.band_key_batch(batch, bands, rows)
    out.pop("text", None)  # the grouping needs the index, signature and keys only
    return out
