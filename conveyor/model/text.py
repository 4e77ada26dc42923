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
        index = self._index
        counts: Counter[int] = Counter()
        for term in terms_of(text):
            position = index.get(term)
            if position is not None:
                counts[position] += 1
        row = [0.0] * width
        for position, count in counts.items():
            row[position] = count * self.idf[position]
        norm = math.sqrt(math.fsum(v * v for v in row))
        return [v / norm for v in row] if norm else row

    @property
    def _index(self) -> dict[str, int]:
        cached = self.__dict__.get("_index_cache")
        if cached is None:
            cached = {t: i for i, t in enumerate(self.terms)}
            object.__setattr__(self, "_index_cache", cached)
        return cached

    def to_dict(self) -> dict[str, Any]:
        return {"terms": list(self.terms), "idf": list(self.idf)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextVocabulary:
        return cls(tuple(data["terms"]), tuple(float(v) for v in data["idf"]))
