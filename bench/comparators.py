"""Comparator servers for the serving benchmark: MLflow's ``mlflow models serve`` and BentoML,
each serving the same LightGBM booster (a ``model.txt``) on 127.0.0.1.

They are not dependencies of conveyor: each gets a virtualenv of its own under bench/.venvs/,
created on first use with pinned versions. This module is stdlib only (it runs under conveyor's
own interpreter); the comparator-side code runs under the comparator venv's python.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / "bench" / ".venvs"
COMPARATORS = ("mlflow", "bentoml")
PINS: dict[str, tuple[str, ...]] = {
    "mlflow": ("mlflow==3.17.2", "lightgbm==4.7.0"),
    "bentoml": ("bentoml==1.4.39", "lightgbm==4.7.0"),
}
STAMP = ".bench-stamp"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0

# Runs under the mlflow venv: argv = model.txt, output dir, JSON list of feature names.
_MLFLOW_SAVE = """
import json, sys
import lightgbm, mlflow.lightgbm, numpy as np, pandas as pd
from mlflow.models import infer_signature
booster = lightgbm.Booster(model_file=sys.argv[1])
names = json.loads(sys.argv[3])
example = pd.DataFrame(np.zeros((1, len(names)), dtype=np.float64), columns=names)
signature = infer_signature(example, booster.predict(example.to_numpy()))
mlflow.lightgbm.save_model(booster, sys.argv[2], signature=signature)
"""

# Written to workdir and served by `bentoml serve bench_service:LightGBMService`.
_BENTO_SERVICE = '''
"""LightGBM booster behind BentoML 1.4 (new-style service), for the conveyor serving bench."""

import bentoml
import lightgbm
import numpy as np

MODEL_FILE = {model_file!r}


@bentoml.service(workers=1)
class LightGBMService:
    def __init__(self) -> None:
        self.booster = lightgbm.Booster(model_file=MODEL_FILE)

    @bentoml.api
    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.booster.predict(np.asarray(rows, dtype=np.float64))
'''
_BENTO_MODULE = "bench_service"
_BENTO_CLASS = "LightGBMService"


def ensure_env(name: str, pins: tuple[str, ...] | None = None) -> Path:
    """The comparator's virtualenv (bench/.venvs/<name>), created once; returns its python.

    Args:
        name: The venv's folder name (a serving comparator's name when ``pins`` is None).
        pins: The requirements to install (default: the serving comparator's ``PINS``); the
            venv is made again when they change. bench/automl.py passes AutoGluon's and FLAML's.
    """
    if pins is None:
        if name not in PINS:
            raise ValueError(f"unknown comparator {name!r}; expected one of {COMPARATORS}")
        pins = PINS[name]
    venv = VENVS / name
    python = venv / "bin" / "python"
    stamp = venv / STAMP
    wanted = "\n".join(pins) + "\n"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"installing {' '.join(pins)} into {venv}", file=sys.stderr, flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    for command in ([base, "-m", "venv", "--clear", str(venv)], [*pip, *pins]):
        done = subprocess.run(command, capture_output=True)
        if done.returncode != 0:
            output = _tail(done.stdout + done.stderr)
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{output}")
    stamp.write_text(wanted)
    return python


@dataclass
class Comparator:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    feature_names: list[str] = field(default_factory=list)
    log: Path | None = None

    def body(self, rows: list[list[float]]) -> bytes:
        """The JSON request body for these rows (feature order = feature_names)."""
        if self.name == "mlflow":
            payload: object = {"dataframe_split": {"columns": self.feature_names, "data": rows}}
        else:
            payload = {"rows": rows}
        return json.dumps(payload).encode()

    def answers(self, response: bytes) -> list[Any]:
        """One answer per row from a response body."""
        decoded = json.loads(response)
        return list(decoded["predictions"] if self.name == "mlflow" else decoded)

    def parse(self, response: bytes) -> list[float]:
        """The positive-class probabilities from a response body."""
        return [float(p) for p in self.answers(response)]

    def stop(self) -> None:
        """SIGTERM (mlflow) / SIGINT (bentoml) to the process group; SIGKILL after 20 s."""
        self.process.poll()
        if not _group_alive(self.process):
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        _signal_group(self.process, signal.SIGINT if self.name == "bentoml" else signal.SIGTERM)
        # The leader can exit before its workers (mlflow's CLI dies on SIGTERM while uvicorn
        # shuts down gracefully), so wait for the whole group, not just the leader.
        while time.monotonic() < deadline and _group_alive(self.process):
            self.process.poll()
            time.sleep(0.05)
        _signal_group(self.process, signal.SIGKILL)
        self.process.wait()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    if process.returncode is None:
        return True
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def _env(python: Path, workdir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIRTUAL_ENV", "PYTHON", "MLFLOW_", "BENTOML_"))
    }
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    env["MLFLOW_TRACKING_URI"] = (workdir / "mlruns").as_uri()
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["BENTOML_HOME"] = str(workdir / "bentoml-home")
    env["BENTOML_DO_NOT_TRACK"] = "true"
    env["DO_NOT_TRACK"] = "1"
    return env


def start(
    name: str, model_txt: Path, feature_names: list[str], port: int, workdir: Path
) -> Comparator:
    """Start comparator ``name`` on 127.0.0.1:port serving ``model_txt``; returns once it has
    answered a real predict request (or raises RuntimeError with the server log's tail)."""
    python = ensure_env(name)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    model_txt = Path(model_txt).resolve()
    if not model_txt.is_file():  # bentoml would restart a failing worker until the timeout
        raise FileNotFoundError(model_txt)
    env = _env(python, workdir)
    if name == "mlflow":
        model_dir = workdir / "mlflow-model"
        shutil.rmtree(model_dir, ignore_errors=True)
        save = [str(python), "-c", _MLFLOW_SAVE, str(model_txt), str(model_dir)]
        saved = subprocess.run(
            [*save, json.dumps(feature_names)], env=env, cwd=workdir, capture_output=True
        )
        if saved.returncode != 0:
            raise RuntimeError(f"mlflow save_model failed:\n{_tail(saved.stderr)}")
        ready = json.dumps(
            {"dataframe_split": {"columns": feature_names, "data": [[0.0] * len(feature_names)]}}
        )
        return serve_mlflow_model(python, model_dir, port, workdir, ready.encode(), feature_names)
    if name != "bentoml":
        raise ValueError(f"unknown comparator {name!r}; expected one of {COMPARATORS}")
    service = _BENTO_SERVICE.format(model_file=str(model_txt))
    (workdir / f"{_BENTO_MODULE}.py").write_text(textwrap.dedent(service).lstrip())
    command = [str(python.parent / "bentoml"), "serve", f"{_BENTO_MODULE}:{_BENTO_CLASS}"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/predict"
    comparator = _launch(name, command, url, workdir, env, feature_names)
    return _when_ready(comparator, json.dumps({"rows": [[0.0] * len(feature_names)]}).encode())


def serve_mlflow_model(
    python: Path,
    model_dir: Path,
    port: int,
    workdir: Path,
    ready_body: bytes,
    feature_names: list[str] | None = None,
) -> Comparator:
    """``mlflow models serve -m model_dir`` (``python``'s venv, ``--env-manager local``) on
    127.0.0.1:port; returns once it answered ``ready_body`` with one prediction (or raises
    RuntimeError with the server log's tail)."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    command = [str(python.parent / "mlflow"), "models", "serve", "-m", str(model_dir)]
    command += ["-h", "127.0.0.1", "-p", str(port), "--env-manager", "local"]
    url = f"http://127.0.0.1:{port}/invocations"
    env = _env(python, workdir)
    comparator = _launch("mlflow", command, url, workdir, env, feature_names or [])
    return _when_ready(comparator, ready_body)


def _launch(
    name: str,
    command: list[str],
    url: str,
    workdir: Path,
    env: dict[str, str],
    feature_names: list[str],
) -> Comparator:
    log = workdir / f"{name}-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Comparator(name, process, url, feature_names, log)


def _when_ready(comparator: Comparator, body: bytes) -> Comparator:
    try:
        _wait_ready(comparator, body)
    except BaseException:
        comparator.stop()
        raise
    return comparator


def _wait_ready(comparator: Comparator, body: bytes) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if comparator.process.poll() is not None:
            raise RuntimeError(
                f"{comparator.name} server exited with {comparator.process.returncode} before "
                f"answering; log {comparator.log}:\n{_log_tail(comparator.log)}"
            )
        request = urllib.request.Request(
            comparator.url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                predictions = comparator.answers(response.read())
            if len(predictions) == 1:
                return
            last_error = f"unexpected answer {predictions!r:.300}"
        except urllib.error.HTTPError as error:
            last_error = f"HTTP {error.code}: {error.read()[:500]!r}"
        except (OSError, ValueError, KeyError, TypeError) as error:
            last_error = repr(error)
        time.sleep(0.25)
    raise RuntimeError(
        f"{comparator.name} server did not answer a predict request at {comparator.url} within "
        f"{START_TIMEOUT:.0f} s (last error: {last_error}); log {comparator.log}:\n"
        f"{_log_tail(comparator.log)}"
    )


def _tail(data: bytes, lines: int = 30) -> str:
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def _log_tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return "(no log)"
    return _tail(log.read_bytes())
