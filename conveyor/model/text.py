"""Free text as a few numbers: TF-IDF weights of a small vocabulary of words and word pairs,
fitted on the training split and saved in the encoder's JSON.

The weights are scikit-learn's ``TfidfVectorizer`` defaults (lower case, tokens of two or
more word characters, smoothed idf ``ln((1 + n) / (1 + df)) + 1``, rows scaled to unit
length); a test holds them equal to it. The transform is plain Python, written once and
called by both the columnar encoder (training, batch) and the request path's row encoder,
so the two give the same numbers to the last bit.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

MAX_TERMS = 64
MIN_DOCUMENTS = 2  # a term in one training row is noise
MAX_SHARE = 0.5  # a term in more than half the rows ("the", "and") tells little
FIT_ROWS = 50_000  # the vocabulary is found on at most this many texts (every k-th row)
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def terms_of(text: str) -> list[str]:
    """The words (lower case) and adjacent word pairs of ``text``."""
    words = _TOKEN.findall(text.lower())
    return words + [f"{a} {b}" for a, b in pairwise(words)]


@dataclass(frozen=True)
class TextVocabulary:
    """The terms kept for one text feature and their idf weights."""

    terms: tuple[str, ...]
    idf: tuple[float, ...]

    @classmethod
    def fit(
        cls,
        texts: Iterable[str | None],
        *,
        max_terms: int = MAX_TERMS,
        min_documents: int = MIN_DOCUMENTS,
        max_share: float = MAX_SHARE,
    ) -> TextVocabulary:
        """The ``max_terms`` terms in the most rows (at least ``min_documents``, at most
        ``max_share`` of them), ties by term; missing texts are not rows."""
        documents = 0
        frequency: Counter[str] = Counter()
        for text in texts:
            if text is None:
                continue
            documents += 1
            frequency.update(set(terms_of(text)))
        ceiling = max_share * documents
        kept = sorted(
            (t for t, n in frequency.items() if min_documents <= n <= ceiling),
            key=lambda t: (-frequency[t], t),
        )[:max_terms]
        kept.sort()
        idf = tuple(math.log((1 + documents) / (1 + frequency[t])) + 1.0 for t in kept)
        return cls(tuple(kept), idf)

    def feature_names(self, name: str) -> list[str]:
        return [f"{name}__{term.replace(' ', '_')}" for term in self.terms]

    def encode(self, text: str | None) -> list[float]:
        """The TF-IDF row of ``text`` (unit length; all zeros when it has no kept term; NaN
        when missing)."""
        width = len(self.terms)
        if text is None:
            return [math.nan] * width
        index, heads = self._lookup
        words = _TOKEN.findall(text.lower())
        counts: dict[int, int] = {}
        last = len(words) - 1
        # Only the kept terms are counted, and a pair is only built after a word that starts
        # one: most words of a text are in no kept term.
        for i, word in enumerate(words):
            position = index.get(word)
            if position is not None:
                counts[position] = counts.get(position, 0) + 1
            if word in heads and i < last:
                position = index.get(f"{word} {words[i + 1]}")
                if position is not None:
                    counts[position] = counts.get(position, 0) + 1
        row = [0.0] * width
        if not counts:
            return row
        weights = {p: n * self.idf[p] for p, n in counts.items()}
        norm = math.sqrt(math.fsum(v * v for v in weights.values()))
        for position, weight in weights.items():
            row[position] = weight / norm
        return row

    @property
    def _lookup(self) -> tuple[dict[str, int], frozenset[str]]:
        cached = self.__dict__.get("_lookup_cache")
        if cached is None:
            index = {t: i for i, t in enumerate(self.terms)}
            heads = frozenset(t.split(" ", 1)[0] for t in self.terms if " " in t)
            cached = (index, heads)
            object.__setattr__(self, "_lookup_cache", cached)
        return cached

    def to_dict(self) -> dict[str, Any]:
        return {"terms": list(self.terms), "idf": list(self.idf)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextVocabulary:
        return cls(tuple(data["terms"]), tuple(float(v) for v in data["idf"]))
