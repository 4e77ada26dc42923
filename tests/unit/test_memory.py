from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conveyor._memory import ARROW_POOL_VARIABLE, JEMALLOC_VARIABLE, give_back_freed_memory


def test_the_allocator_settings_are_set_unless_the_user_chose_their_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(JEMALLOC_VARIABLE, raising=False)
    monkeypatch.setenv(ARROW_POOL_VARIABLE, "mimalloc")
    give_back_freed_memory()

    assert "dirty_decay_ms" in os.environ[JEMALLOC_VARIABLE]
    assert os.environ[ARROW_POOL_VARIABLE] == "mimalloc"


def test_the_cli_sets_them_before_polars_or_pyarrow_is_imported() -> None:
    # Both read their allocator's settings once, as they are first imported; the commands
    # that import them (preprocess in the worker, the training jobs) come after main().
    probe = (
        "import sys\n"
        "from conveyor.cli.main import main\n"
        "assert 'pyarrow' not in sys.modules and 'polars' not in sys.modules\n"
        "sys.argv = ['conveyor', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "import pyarrow\n"
        "print(pyarrow.default_memory_pool().backend_name)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in (ARROW_POOL_VARIABLE, JEMALLOC_VARIABLE)}
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "system"
