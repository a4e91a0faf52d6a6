"""Labelled near-duplicate benchmark: workbench's vectorized MinHash + numpy banding vs rensa and datasketch.

    python benchmarks/dedup.py                    # 20k documents, about a minute
    python benchmarks/dedup.py --records 1000000 --short --skip-baseline   # memory at 1M short records

Documents: random ~120-word texts over a 5k-word vocabulary. Duplicate groups are made by
controlled edits of a source (word swaps, insertions, deletions, re-wrapping) at edit rates
of 0.5%, 1% and 2% of the words (at 5-word shingles a 2% rate is already est. Jaccard ~0.7); hard negatives share a long common prefix/topic with a source but are
otherwise different (about 40% of their words). Precision/recall/F1 are over pairs.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import xxhash  # noqa: E402

from workbench.curate import banding, minhash  # noqa: E402

_r = random.Random(7)  # letters only: normalization maps digits to 0
VOCAB = sorted({"".join(_r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(_r.randint(3, 9))) for _ in range(5200)})[:5000]


def edit(words: list[str], rate: float, rng: random.Random) -> str:
    out = list(words)
    for _ in range(max(1, int(len(out) * rate))):
        op = rng.choice("sidw")
        i = rng.randrange(len(out))
        if op == "s" and len(out) > 1:
            j = rng.randrange(len(out))
            out[i], out[j] = out[j], out[i]
        elif op == "i":
            out.insert(i, rng.choice(VOCAB))
        elif op == "d" and len(out) > 5:
            del out[i]
        else:  # re-wrap: a line break inside the text (normalization must ignore it)
            out[i] = out[i] + "\n"
    return " ".join(out)


def stream(n: int, words: int, seed: int = 0):
    """(text, group label, edit rate) for n documents, one at a time (the 10M run never holds them all)."""
    rng = random.Random(seed)
    made, group = 0, 0
    while made < n:
        src = [rng.choice(VOCAB) for _ in range(words)]
        out = [(" ".join(src), group, 0.0)]
        kind = rng.random()
        if kind < 0.4:  # a duplicate group: 1-3 edited copies
            for _ in range(rng.randint(1, 3)):
                rate = rng.choice(RATES)
                out.append((edit(src, rate, rng), group, rate))
        elif kind < 0.6:  # a hard negative: keeps 40% of the words (in place)
            neg = [w if rng.random() < 0.4 else rng.choice(VOCAB) for w in src]
            group += 1
            out.append((" ".join(neg), group, -1.0))
        group += 1
        for item in out[: n - made]:
            yield item
        made += len(out)


def make(n: int, words: int, seed: int = 0):
    texts, labels, rates = [], [], []
    for text, label, rate in stream(n, words, seed):
        texts.append(text)
        labels.append(label)
        rates.append(rate)
    return texts, labels, rates


def pairs_from_groups(groups):
    return {(a, b) for g in groups for a, b in combinations(sorted(g), 2)}


RATES = [0.005, 0.01, 0.02]  # every labelled copy counts as a duplicate (IN_RANGE covers them all)
IN_RANGE = 0.02


def score(pred_groups, labels, rates, max_rate=IN_RANGE):
    """Pair precision/recall/F1; truth = pairs within a group whose copies have edit rate <= max_rate.
    Predicted pairs involving a copy edited beyond max_rate are neither rewarded nor penalized."""
    truth = {}
    for i, g in enumerate(labels):
        if rates[i] <= max_rate:
            truth.setdefault(g, []).append(i)
    t = pairs_from_groups([g for g in truth.values() if len(g) > 1])
    p = {(a, b) for a, b in pairs_from_groups(pred_groups)
         if not (labels[a] == labels[b] and max(rates[a], rates[b]) > max_rate)}
    tp = len(t & p)
    prec = tp / len(p) if p else 1.0
    rec = tp / len(t) if t else 1.0
    return prec, rec, 2 * prec * rec / (prec + rec) if prec + rec else 0.0


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rates_line(name: str, n: int, t_sig: float, t_lsh: float, f1: float) -> float:
    e2e = n / (t_sig + t_lsh)
    print(f"{name}: signatures {n / t_sig:,.0f} rec/s ({t_sig:.1f}s), LSH+clusters {n / t_lsh:,.0f} rec/s ({t_lsh:.1f}s), "
          f"end to end {e2e:,.0f} rec/s, F1 {f1:.4f}")
    return e2e


def workbench_arm(texts, a, num_perm: int, seed: int = 1):
    t0 = time.perf_counter()
    sigs = minhash.signatures(texts, num_perm=num_perm, n=5, seed=seed)
    t_sig = time.perf_counter() - t0
    t0 = time.perf_counter()
    groups = minhash.near_duplicate_groups(sigs, a.threshold, a.bands, a.rows, seed=seed,
                                           exact=minhash.ShingleSets(texts, 5).jaccard)
    return t_sig, time.perf_counter() - t0, groups, sigs


def rensa_arm(texts, a, num_perm: int, seed: int = 1):
    """rensa as its README uses it: one `RMinHash` per record over the same shingle strings, an
    `RMinHashLSH` index queried then inserted per record, candidates verified at the same
    threshold with `RMinHash.jaccard`, the same union-find, the same seeds as workbench's arm."""
    from rensa import RMinHash, RMinHashLSH

    t0 = time.perf_counter()
    sketches = []
    for text in texts:
        m = RMinHash(num_perm=num_perm, seed=seed)
        m.update(minhash.shingles(text, 5))
        sketches.append(m)
    t_sig = time.perf_counter() - t0
    t0 = time.perf_counter()
    lsh = RMinHashLSH(threshold=a.threshold, num_perm=num_perm, num_bands=a.bands)
    uf = minhash.UnionFind(len(texts))
    for i, m in enumerate(sketches):
        for c in lsh.query(m):
            if m.jaccard(sketches[c]) >= a.threshold:
                uf.union(c, i)
        lsh.insert(i, m)
    return t_sig, time.perf_counter() - t0, uf.groups()


def out_of_core(a, words: int, num_perm: int) -> None:
    """The 10M path: texts streamed, signatures in chunks to disk, band keys spilled to Parquet."""
    labels = np.empty(a.records, dtype=np.int64)
    rates = np.empty(a.records, dtype=np.float64)
    marks = {}

    def texts():
        for k, (text, label, rate) in enumerate(stream(a.records, words)):
            labels[k], rates[k] = label, rate
            yield text

    def sig_blocks():
        marks["start"] = time.perf_counter()
        yield from minhash.signature_chunks(texts(), num_perm=num_perm, n=5, chunk_docs=20_000)
        marks["signed"] = time.perf_counter()

    labels_out = banding.out_of_core_labels(sig_blocks(), a.out_of_core, a.threshold, a.bands, a.rows)
    t_end = time.perf_counter()
    rss = peak_mib()  # before scoring, whose Python sets of pairs are the benchmark's, not the product's
    groups = banding.groups_from_labels(labels_out)
    prec, rec, f1 = score(groups, labels.tolist(), rates.tolist())
    print(f"out of core ({a.out_of_core}): generate + signatures + spill {marks['signed'] - marks['start']:.0f}s, "
          f"banding {t_end - marks['signed']:.0f}s, total {t_end - marks['start']:.0f}s "
          f"({a.records / (t_end - marks['start']):,.0f} rec/s incl. generating the texts), {len(groups):,} clusters, "
          f"peak RSS before scoring {rss:,.0f} MiB")
    print(f"quality: precision {prec:.3f} recall {rec:.3f} F1 {f1:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--words", type=int, default=120)
    ap.add_argument("--short", action="store_true", help="~25-word documents (the 1M memory check)")
    ap.add_argument("--baseline-records", type=int, default=2000, help="records for the per-record loops")
    ap.add_argument("--skip-baseline", action="store_true", help="skip the per-record datasketch signature loops")
    ap.add_argument("--skip-rensa", action="store_true")
    ap.add_argument("--seeds", default="1,2,3", help="MinHash seeds for the workbench/rensa comparison")
    ap.add_argument("--datasketch-lsh", action="store_true", help="also time datasketch's MinHashLSH on the same signatures")
    ap.add_argument("--out-of-core", metavar="DIR", help="stream the texts; signatures and band keys spilled under DIR")
    ap.add_argument("--threshold", type=float, default=0.7)
    ap.add_argument("--bands", type=int, default=20)
    ap.add_argument("--rows", type=int, default=5)
    a = ap.parse_args()
    words = 25 if a.short else a.words
    num_perm = a.bands * a.rows
    print(f"{a.records} documents, ~{words} words, 5-word shingles, {num_perm} perms ({a.bands}x{a.rows}), "
          f"threshold {a.threshold}")
    if a.out_of_core:
        return out_of_core(a, words, num_perm)
    texts, labels, rates = make(a.records, words)

    t_sig, t_lsh, groups, sigs = workbench_arm(texts, a, num_perm)
    prec, rec, f1 = score(groups, labels, rates)
    found = pairs_from_groups(groups)
    src = {}
    for i, g in enumerate(labels):
        if rates[i] == 0.0:
            src[g] = i
    per_rate = []
    for r in RATES:
        pairs = [(min(src[labels[i]], i), max(src[labels[i]], i)) for i in range(len(texts)) if rates[i] == r and labels[i] in src]
        per_rate.append(f"{r:.1%}: {sum(p in found for p in pairs) / max(1, len(pairs)):.2f}")
    negs = [(min(src[labels[i] - 1], i), max(src[labels[i] - 1], i)) for i in range(len(texts)) if rates[i] == -1.0 and labels[i] - 1 in src]
    rate = len(texts) / t_sig
    rates_line("workbench", len(texts), t_sig, t_lsh, f1)
    print(f"workbench peak RSS so far {peak_mib():,.0f} MiB")
    print(f"quality (duplicates = copies with <= {IN_RANGE:.0%} word edits): precision {prec:.3f} recall {rec:.3f} F1 {f1:.3f}")
    print("recall of source-copy pairs by edit rate: " + ", ".join(per_rate))
    print(f"hard negatives (40% shared words) merged with their source: {sum(p in found for p in negs)} of {len(negs)}")

    if a.datasketch_lsh:
        t0 = time.perf_counter()
        plain = minhash.near_duplicate_groups(sigs, a.threshold, a.bands, a.rows)
        t_plain = time.perf_counter() - t0
        print(f"banding without the exact check of borderline pairs: {t_plain:.2f}s (with it: {t_lsh:.2f}s); "
              f"F1 without it {score(plain, labels, rates)[2]:.4f}")
        t0 = time.perf_counter()
        ds_groups = minhash.near_duplicate_groups(sigs, a.threshold, a.bands, a.rows, method="datasketch",
                                                  exact=minhash.ShingleSets(texts, 5).jaccard)
        t_ds = time.perf_counter() - t0
        print(f"datasketch MinHashLSH on the same signatures: LSH+clusters {len(texts) / t_ds:,.0f} rec/s ({t_ds:.1f}s); "
              f"numpy banding is {t_ds / t_lsh:.1f}x; same groups: {ds_groups == groups}")
    if not a.skip_rensa:  # the two arms alternate, one seed after another, so load drifts hit both
        seeds = [int(x) for x in a.seeds.split(",")]
        totals = {"workbench": [t_sig, t_lsh, [f1]], "rensa": [0.0, 0.0, []]}
        for k, seed in enumerate(seeds):
            runs = {"rensa": rensa_arm(texts, a, num_perm, seed)}
            if k:
                runs["workbench"] = workbench_arm(texts, a, num_perm, seed)
            for arm, (ts, tl, g, *_) in runs.items():
                totals[arm][0] += ts
                totals[arm][1] += tl
                totals[arm][2].append(score(g, labels, rates)[2])
            print(f"seed {seed}: F1 workbench {totals['workbench'][2][k]:.4f}, rensa {totals['rensa'][2][k]:.4f}")
        n_all = len(texts) * len(seeds)
        e2e = {arm: rates_line(f"{arm} over {len(seeds)} seeds (F1 = mean)", n_all, ts, tl, float(np.mean(f1s)))
               for arm, (ts, tl, f1s) in totals.items()}
        print(f"workbench/rensa end to end: {e2e['workbench'] / e2e['rensa']:.2f}x "
              f"(mean F1 {np.mean(totals['workbench'][2]):.4f} vs {np.mean(totals['rensa'][2]):.4f})")

    if not a.skip_baseline:
        t0 = time.perf_counter()
        minhash.signatures(texts, num_perm=num_perm, n=5, workers=1)
        rate_1 = len(texts) / (time.perf_counter() - t0)
        print(f"workbench on one thread: signatures {rate_1:,.0f} rec/s (the default uses a thread per core)")
        sub = texts[: a.baseline_records]
        # correctness: datasketch's own MinHash, fed the same shingle hashes, gives the same values
        same = all(np.array_equal(minhash.datasketch_signature(t, num_perm=num_perm, n=5), s)
                   for t, s in zip(sub[:200], sigs[:200]))
        print(f"signatures identical to datasketch.MinHash fed the same shingle hashes: {same} (200 checked)")
        loops = {
            "datasketch per-record MinHash loop, its defaults (sha1 over shingle strings)":
                lambda t: minhash.datasketch_loop_signature(t, num_perm=num_perm, n=5),
            "datasketch per-record MinHash loop, xxh32 over shingle strings, affine32":
                lambda t: minhash.datasketch_loop_signature(t, num_perm=num_perm, n=5,
                                                            hashfunc=xxhash.xxh32_intdigest, scheme="affine32"),
        }
        for label, fn in loops.items():
            t0 = time.perf_counter()
            for t in sub:
                fn(t)
            brate = len(sub) / (time.perf_counter() - t0)
            print(f"{label}: {brate:,.0f} rec/s on {len(sub)} records -> workbench is {rate / brate:.1f}x "
                  f"({rate_1 / brate:.1f}x on one thread)")


if __name__ == "__main__":
    main()
