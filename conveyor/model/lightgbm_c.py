"""A saved LightGBM model loaded and predicted through LightGBM's C library, without its Python
package.

``import lightgbm`` imports scikit-learn when it is installed (for its estimator classes),
and scikit-learn imports SciPy's statistics: about a second of CPU before a server can load
its first model, twice what the rest of the server's start costs. A served model only loads
a file and predicts, which are a few calls into the library the package wraps
(``lib_lightgbm``, from the installed package's folder, read without importing it). Anything
else asked of the booster (feature importances, saving) goes to a ``lightgbm.Booster``
loaded from the same file on first use.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

_PREDICT_NORMAL = 0
_PREDICT_CONTRIB = 3
_FLOAT64 = 1
_ROW_MAJOR = 1
_LIBRARY_NAMES = {"win32": "lib_lightgbm.dll", "darwin": "lib_lightgbm.dylib"}


@functools.cache
def library() -> ctypes.CDLL:
    """LightGBM's C library: the package's own when it is imported, else loaded from the
    package's folder (the same file, so the same library in the process)."""
    basic = sys.modules.get("lightgbm.basic")
    if basic is not None:
        lib: ctypes.CDLL = basic._LIB
        return lib
    lib = ctypes.cdll.LoadLibrary(str(_library_path()))
    lib.LGBM_GetLastError.restype = ctypes.c_char_p
    return lib


def _library_path() -> Path:
    spec = importlib.util.find_spec("lightgbm")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("LightGBM is not installed: pip install lightgbm")
    folder = Path(next(iter(spec.submodule_search_locations)))
    name = _LIBRARY_NAMES.get(sys.platform, "lib_lightgbm.so")
    for candidate in (folder / "lib" / name, folder / "bin" / name, folder.parent / name):
        if candidate.is_file():
            return candidate
    raise ImportError(f"LightGBM's library {name} is not in {folder}; reinstall lightgbm")


def check(code: int) -> None:
    """Raise LightGBM's last error when a call into its library failed (``code`` not 0)."""
    if code != 0:
        raise RuntimeError(library().LGBM_GetLastError().decode("utf-8", "replace"))


class CBooster:
    """The part of ``lightgbm.Booster`` a served model uses, on a model file."""

    def __init__(self, model_file: Path) -> None:
        self.model_file = model_file
        self._lib = library()
        self._handle = ctypes.c_void_p()
        iterations = ctypes.c_int()
        check(
            self._lib.LGBM_BoosterCreateFromModelfile(
                str(model_file).encode(), ctypes.byref(iterations), ctypes.byref(self._handle)
            )
        )
        self.best_iteration = -1  # as lightgbm.Booster loaded from a file: every iteration
        self._full: Any = None

    def __del__(self) -> None:
        if getattr(self, "_handle", None) and self._handle.value:
            self._lib.LGBM_BoosterFree(self._handle)

    def _int(self, function: str) -> int:
        out = ctypes.c_int()
        check(getattr(self._lib, function)(self._handle, ctypes.byref(out)))
        return out.value

    def num_feature(self) -> int:
        return self._int("LGBM_BoosterGetNumFeature")

    def current_iteration(self) -> int:
        return self._int("LGBM_BoosterGetCurrentIteration")

    def num_model_per_iteration(self) -> int:
        return self._int("LGBM_BoosterNumModelPerIteration")

    def predict(
        self,
        data: np.ndarray,
        *,
        num_iteration: int = -1,
        pred_contrib: bool = False,
        **params: Any,
    ) -> np.ndarray:
        """What ``lightgbm.Booster.predict`` answers for a float matrix: one value per row, or
        one per class and row (``(rows, classes)``) for several classes; with
        ``pred_contrib``, each feature's contribution and the bias, per row. Any other option
        than ``num_threads`` is lightgbm's own booster's to answer."""
        if params.keys() - {"num_threads"}:
            return np.asarray(
                self._lightgbm().predict(
                    data, num_iteration=num_iteration, pred_contrib=pred_contrib, **params
                )
            )
        predict_type = _PREDICT_CONTRIB if pred_contrib else _PREDICT_NORMAL
        matrix = np.ascontiguousarray(data, dtype=np.float64)
        rows, columns = matrix.shape
        expected = ctypes.c_int64()
        check(
            self._lib.LGBM_BoosterCalcNumPredict(
                self._handle,
                ctypes.c_int(rows),
                ctypes.c_int(predict_type),
                ctypes.c_int(0),
                ctypes.c_int(num_iteration),
                ctypes.byref(expected),
            )
        )
        out = np.empty(expected.value, dtype=np.float64)
        written = ctypes.c_int64()
        parameters = " ".join(f"{key}={value}" for key, value in params.items())
        check(
            self._lib.LGBM_BoosterPredictForMat(
                self._handle,
                matrix.ctypes.data_as(ctypes.c_void_p),
                ctypes.c_int(_FLOAT64),
                ctypes.c_int32(rows),
                ctypes.c_int32(columns),
                ctypes.c_int(_ROW_MAJOR),
                ctypes.c_int(predict_type),
                ctypes.c_int(0),
                ctypes.c_int(num_iteration),
                parameters.encode(),
                ctypes.byref(written),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            )
        )
        return out if out.size == rows else out.reshape(rows, -1)

    def _lightgbm(self) -> Any:
        """lightgbm's own booster on the same file, loaded on first use."""
        if self._full is None:
            import lightgbm as lgb

            self._full = lgb.Booster(model_file=str(self.model_file))
        return self._full

    def __getattr__(self, name: str) -> Any:
        # Only for what is not defined here (a loaded model's importances, say): the whole
        # package, once.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._lightgbm(), name)
