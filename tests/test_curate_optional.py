"""The optional curation steps: language filter (langdetect) and embedding dedup (the bundled
all-MiniLM-L6-v2), each with a reason for every drop."""

from __future__ import annotations

from workbench.curate.dedup import EmbeddingDedup
from workbench.curate.filters import LanguageFilter
from workbench.data.records import make_record


def rec(prompt: str, answer: str):
    return make_record([{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}])


def test_language_filter_drops_other_languages_with_the_detected_one():
    english = rec("Why do leaves change colour in autumn?",
                  "Leaves change colour because the green chlorophyll breaks down and other pigments show through.")
    french = rec("Pourquoi les feuilles changent-elles de couleur en automne ?",
                 "Les feuilles changent de couleur parce que la chlorophylle verte se décompose peu à peu.")
    short = rec("Hola", "Hola, ¿qué tal?")  # below min_chars: not judged
    step = LanguageFilter()
    res = step.apply([english, french, short])
    assert set(res.drops) == {french.id}
    verdict = res.drops[french.id]
    assert verdict.reason == "language" and verdict.detail.startswith("fr") and "allowed en" in verdict.detail
    # the same input gives the same verdicts (langdetect is seeded)
    assert step.apply([english, french, short]).drops == res.drops
    # allowing French keeps it
    assert LanguageFilter(LanguageFilter.Params(languages=["en", "fr"])).apply([english, french]).drops == {}


def test_embedding_dedup_catches_a_paraphrase_that_minhash_misses():
    from workbench.curate.dedup import MinHashDedup

    a = rec("How can I make my bread rise higher?", "Use fresh yeast and let the dough proof longer.")
    b = rec("How do I get my bread to rise higher?", "Let the dough proof longer with fresh yeast.")
    other = rec("What is the capital of Australia?", "Canberra is the capital of Australia.")
    assert MinHashDedup().apply([a, b, other]).drops == {}  # too few shared 5-word shingles
    res = EmbeddingDedup(EmbeddingDedup.Params(threshold=0.85)).apply([a, b, other])
    assert set(res.drops) == {b.id}
    verdict = res.drops[b.id]
    assert verdict.reason == "paraphrase_duplicate" and f"duplicate of {a.id}" in verdict.detail
    assert "cosine" in verdict.detail
