"""The ``conveyor`` command itself: every command is listed and loads, a mistyped one is a
usage error (not a traceback), and light commands do not wait for the model libraries."""

from __future__ import annotations

import os
import subprocess
import sys

from conveyor.cli.main import COMMANDS, app, load_command
from tests.e2e.conftest import CONVEYOR, Cli


def test_every_command_loads_and_has_help() -> None:
    for name in COMMANDS:
        command = load_command(name)
        assert command.name == name
        assert command.help or command.short_help, f"{name} has no help text"


def test_help_lists_every_command() -> None:
    result = subprocess.run([str(CONVEYOR), "--help"], capture_output=True, text=True, check=True)
    for name in COMMANDS:
        assert f" {name} " in result.stdout, name
    assert app.info.help and app.info.help.split()[0] in result.stdout


def test_a_flag_shows_no_value_type_and_an_option_shows_its_own() -> None:
    result = subprocess.run(
        [str(CONVEYOR), "upload", "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "160"},
    )
    wait = next(line for line in result.stdout.splitlines() if "--wait" in line)
    assert "<bool>" not in result.stdout and "<" not in wait
    assert "<fast|balanced|best>" in result.stdout


def test_a_mistyped_command_is_a_usage_error_not_a_traceback() -> None:
    result = subprocess.run([str(CONVEYOR), "uplaod", "x.csv"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "No such command 'uplaod'" in result.stderr
    assert "Traceback" not in result.stderr


def test_upload_and_runs_do_not_import_the_data_and_model_libraries() -> None:
    # Importing polars, pyarrow or LightGBM costs a third of a second before any work.
    script = (
        "import sys\n"
        "from conveyor.cli.main import load_command\n"
        "for name in ('upload', 'runs', 'project', 'init', 'logs'):\n"
        "    load_command(name)\n"
        "heavy = [m for m in ('polars', 'pyarrow', 'numpy', 'lightgbm', 'sklearn', 'fastapi')\n"
        "         if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_project_show_says_what_auto_and_default_came_to(deployed_cli: Cli) -> None:
    shown = deployed_cli("project", "show", "churn")
    assert shown.returncode == 0, shown.stderr
    assert "task auto (binary in v1), metric default (roc_auc in v1)" in shown.stdout


def test_a_project_is_named_the_same_way_in_runs_and_models(deployed_cli: Cli) -> None:
    by_argument = deployed_cli("runs", "list", "churn", "--json")
    by_option = deployed_cli("runs", "list", "--project", "churn", "--json")
    assert by_argument.returncode == 0, by_argument.stderr
    assert by_argument.stdout == by_option.stdout and '"project": "churn"' in by_argument.stdout
    both = deployed_cli("runs", "list", "churn", "--project", "other")
    assert both.returncode == 2 and "two projects given" in both.stderr
    helped = deployed_cli("models", "list", "--help")
    assert "The project (from `conveyor project list`)" in helped.stdout
