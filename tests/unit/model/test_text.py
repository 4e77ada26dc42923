"""Free text as TF-IDF features: scikit-learn's weights, and the same numbers on the columnar
and the request path."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import polars as pl
import pytest

from conveyor.model.encode import FeatureEncoder
from conveyor.model.rows import RowEncoder
from conveyor.model.text import TextVocabulary
from conveyor.tabular.coerce import coerce_frame
from conveyor.tabular.numbers import NumberFormat
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task

WORDS = [
    "good",
    "bad",
    "great",
    "service",
    "slow",
    "fast",
    "price",
    "quality",
    "staff",
    "friendly",
    "rude",
    "clean",
    "room",
]


def reviews(count: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) for _ in range(count)]


def test_weights_are_scikit_learns_tfidf_on_the_kept_terms() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = reviews(200)
    vocabulary = TextVocabulary.fit(texts, max_terms=30)
    assert len(vocabulary.terms) == 30
    reference = TfidfVectorizer(ngram_range=(1, 2), vocabulary=list(vocabulary.terms))
    # scikit-learn's idf from the kept vocabulary's document frequencies is the one we keep.
    expected = reference.fit(texts).transform(texts).toarray()
    ours = np.array([vocabulary.encode(t) for t in texts])
    assert np.allclose(ours, expected, atol=1e-12)


def test_terms_in_one_row_or_in_most_rows_are_not_kept() -> None:
    texts = [f"the {'common' if i < 4 else 'other'} unique{i}" for i in range(10)] + [None]
    vocabulary = TextVocabulary.fit(texts)
    assert "the" not in vocabulary.terms  # in every row
    assert not any(t.startswith("unique") for t in vocabulary.terms)  # in one row each
    assert vocabulary.terms == ("common", "the common")
    assert all(math.isnan(v) for v in vocabulary.encode(None))
    assert vocabulary.encode("nothing kept here") == [0.0, 0.0]


SCHEMA = DatasetSchema(
    target="y",
    task=Task.REGRESSION,
    features=(
        FeatureSpec("review", FeatureKind.TEXT, nullable=True),
        FeatureSpec(
            "price",
            FeatureKind.NUMERIC,
            number_format=NumberFormat(".", ",", "$", "", True),
            missing_tokens=("unknown",),
        ),
        FeatureSpec(
            "when",
            FeatureKind.DATETIME,
            date_format="%m/%d/%y %H:%M",
            date_formats=("%m/%d/%y %H:%M", "%Y-%m-%dT%H:%M:%S%.f%#z"),
        ),
    ),
)
VALUES: dict[str, list[Any]] = {
    "review": [None, "", "N/A", "good service", "Great GREAT room, rude staff!", *reviews(5)],
    "price": [None, 3.5, 7, "$1,200.50", "(12.00)", "unknown", "Unknown", "12", "-$4"],
    "when": [None, "8/6/20 18:57", "2016-01-01T00:00:00Z", "2016-01-01T03:00:00+02:00"],
}


@pytest.fixture(scope="module")
def encoder() -> FeatureEncoder:
    train = pl.DataFrame(
        {
            "review": reviews(60),
            "price": [f"${i:,}.00" for i in range(60)],
            "when": ["8/6/20 18:57", "2016-01-01T00:00:00Z"] * 30,
        }
    )
    return FeatureEncoder().fit(coerce_frame(train, SCHEMA), SCHEMA)


@pytest.mark.parametrize("seed", range(10))
def test_text_money_and_dates_encode_alike_on_both_paths(
    encoder: FeatureEncoder, seed: int
) -> None:
    rng = random.Random(seed)
    records = [{n: rng.choice(v) for n, v in VALUES.items()} for _ in range(rng.randint(1, 6))]
    frame = pl.DataFrame({n: pl.Series(n, [r[n] for r in records], strict=False) for n in VALUES})
    columnar = encoder.transform(coerce_frame(frame, SCHEMA))
    rows = RowEncoder(encoder).encode(records)
    assert np.array_equal(columnar, rows, equal_nan=True), records


def test_the_vocabulary_survives_the_artifact_json(encoder: FeatureEncoder) -> None:
    import json

    again = FeatureEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    assert again.feature_names_out_ == encoder.feature_names_out_
    assert any(n.startswith("review__") for n in again.feature_names_out_)
    frame = pl.DataFrame({"review": ["good service"], "price": ["$1"], "when": [None]})
    typed = coerce_frame(frame, SCHEMA)
    assert np.array_equal(again.transform(typed), encoder.transform(typed), equal_nan=True)
