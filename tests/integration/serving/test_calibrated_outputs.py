"""A version's calibrator and decision threshold are what every serving path answers with:
the server's one-row fast path and its batches, batch predict and ``conveyor.load_model``."""

from __future__ import annotations

import dataclasses
import json
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from fastapi.testclient import TestClient

import conveyor
from conveyor.config import Settings
from conveyor.hashing import sha256_file
from conveyor.model.artifact import TRAINING_FILE, Predictor, pack_model_dir
from conveyor.model.calibration import Calibrator
from conveyor.ports import Ports
from conveyor.serving.app import create_app
from conveyor.serving.batch import predict_file
from conveyor.types import ObjectRef
from tests.rows import CHURN_ROW

OTHER = {**CHURN_ROW, "age": 23, "plan": "basic", "support calls": 0}


def _deploy_v2(ports: Ports, tmp_path: Path) -> tuple[Predictor, list[float], list[str]]:
    """v1's model as v2 with a calibrator and a threshold that flips CHURN_ROW's label;
    v2 loaded, CHURN_ROW's calibrated probabilities and both rows' expected labels."""
    v1 = ports.registry.get_version("churn", 1)
    tarball = tmp_path / "v1.tar.gz"
    ports.store.download(v1.artifact.bucket, v1.artifact.key, tarball)
    folder = tmp_path / "v2"
    with tarfile.open(tarball) as archive:
        archive.extractall(folder, filter="data")
    v1_model = Predictor.load(folder)
    raw = v1_model.predict_records([CHURN_ROW, OTHER]).probabilities
    assert raw is not None
    calibrator = Calibrator("sigmoid", {"a": 0.5, "b": 0.4})
    calibrated = calibrator.apply(np.asarray(raw))
    p = float(calibrated[0, 1])
    # Between 0.5 and the row's probability the row goes to the other class.
    threshold = p / 2 if p < 0.5 else (1 + p) / 2
    expected = ["yes" if q > threshold else "no" for q in calibrated[:, 1]]
    assert expected[0] != ("yes" if p > 0.5 else "no")
    calibrator.save(folder)
    training = json.loads((folder / TRAINING_FILE).read_text())
    (folder / TRAINING_FILE).write_text(json.dumps({**training, "decision_threshold": threshold}))
    packed = pack_model_dir(folder, tmp_path / "v2.tar.gz")
    artifact = ObjectRef("models", "churn/r-2/model.tar.gz")
    ports.store.put(artifact.bucket, artifact.key, packed.read_bytes())
    sha256 = sha256_file(packed)
    v2 = ports.registry.create_version(
        dataclasses.replace(v1, version=0, run_id="r-2", artifact=artifact, sha256=sha256)
    )
    ports.endpoint.update_endpoint("churn", v2.version, artifact, sha256)
    loaded = Predictor(
        v1_model.schema,
        v1_model.encoder,
        v1_model.model,
        {**training, "decision_threshold": threshold},
        Calibrator.load(folder),
    )
    return loaded, calibrated[0].tolist(), expected


def test_served_labels_and_probabilities_are_the_calibrated_and_thresholded_ones(
    home: Path, ports: Ports, tmp_path: Path
) -> None:
    v2, probabilities, expected = _deploy_v2(ports, tmp_path)

    with TestClient(create_app(ports, Settings(home=home), poll_seconds=0.05)) as client:
        one: Any = client.post("/predict/churn", json={"instances": [CHURN_ROW]}).json()
        both: Any = client.post("/predict/churn", json={"instances": [CHURN_ROW, OTHER]}).json()
    assert one["model_version"] == 2
    assert one["predictions"] == expected[:1] and both["predictions"] == expected
    assert np.allclose(one["probabilities"][0], probabilities, atol=1e-12)
    assert np.allclose(both["probabilities"][0], probabilities, atol=1e-12)

    source, written = tmp_path / "rows.csv", tmp_path / "scored.csv"
    pl.DataFrame([CHURN_ROW, OTHER]).write_csv(source)
    predict_file(v2, source, written)
    scored = pl.read_csv(written)
    assert scored["prediction"].to_list() == expected
    assert abs(scored["proba_yes"][0] - probabilities[1]) < 1e-9

    loaded = conveyor.load_model("churn", home=str(home))
    assert loaded.version == 2 and loaded.predict([CHURN_ROW, OTHER]).predictions == expected
