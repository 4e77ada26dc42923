"""LightGBM's fast single-row C API, for requests of one row.

``Booster.predict`` re-derives its prediction configuration on every call (parameters parsed,
a predictor built, arrays checked): ~20 µs for a one-row request whose trees take ~4 µs.
``LGBM_BoosterPredictForMatSingleRowFastInit`` builds that configuration once per model; each
call then only walks the trees. A test keeps its answers equal to ``Booster.predict``'s.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import numpy as np

from conveyor.model.lightgbm_c import check, library

_PREDICT_NORMAL = 0
_FLOAT64 = 1


class SingleRowPredictor:
    def __init__(self, booster: Any, *, num_iteration: int, outputs: int) -> None:
        # Predicting one row through LightGBM's C library is what this class is for; the
        # booster is lightgbm's or a CBooster, on the same library.
        lib = library()
        self._lib, self._check = lib, check
        self.n_features = booster.num_feature()
        self._config = ctypes.c_void_p()
        check(
            lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(_PREDICT_NORMAL),
                ctypes.c_int(0),
                ctypes.c_int(num_iteration),
                ctypes.c_int(_FLOAT64),
                ctypes.c_int32(self.n_features),
                ctypes.c_char_p(b"num_threads=1"),
                ctypes.byref(self._config),
            )
        )
        self._booster = booster  # the config points into it: keep it alive as long
        self._outputs = outputs
        # One call at a time per config (the C side keeps per-config state).
        self._lock = threading.Lock()

    def predict(self, row: np.ndarray) -> np.ndarray:
        """Raw predictions (probability of class 1, class probabilities, or the value) of one
        row of ``n_features`` float64 values."""
        row = np.ascontiguousarray(row, dtype=np.float64).reshape(-1)
        if row.shape[0] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got {row.shape[0]}")
        out = np.empty(self._outputs, dtype=np.float64)
        written = ctypes.c_int64()
        with self._lock:
            self._check(
                self._lib.LGBM_BoosterPredictForMatSingleRowFast(
                    self._config,
                    row.ctypes.data_as(ctypes.c_void_p),
                    ctypes.byref(written),
                    out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                )
            )
        return out

    def __del__(self) -> None:
        config = getattr(self, "_config", None)
        if config is not None and config.value:
            self._lib.LGBM_FastConfigFree(config)
