"""``conveyor init``: create the home and its API key, printed once.

The key lives in ``<home>/api_key``, readable by its owner only (0600); the server and the CLI
read it from there whenever ``CONVEYOR_API_KEY`` is unset, so one command turns
authentication on. Only its printout shows the key: nothing else displays it again.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from conveyor.cli._context import CliState
from conveyor.cli._output import console, err_console, print_json
from conveyor.config import API_KEY_FILE
from conveyor.errors import AlreadyExists


def new_api_key() -> str:
    return secrets.token_urlsafe(32)


def write_key_file(path: Path, key: str) -> None:
    """Write ``key`` with mode 0600 from its first byte, replacing any old file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(key + "\n")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def init(
    ctx: typer.Context,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace an existing key (the old one stops working).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Create the home and an API key the server then requires; prints the key once."""
    state: CliState = ctx.obj
    home = state.settings.home
    key_file = home / API_KEY_FILE
    if key_file.exists() and not rotate:
        raise AlreadyExists(
            f"{key_file} already holds this home's API key; `conveyor init --rotate` replaces it",
            field="api_key",
        )
    key = new_api_key()
    write_key_file(key_file, key)
    if as_json:
        print_json({"home": str(home), "key_file": str(key_file), "api_key": key})
        return
    console.print(f"home: {home}")
    console.print(f"API key (shown once; kept in {key_file}, mode 0600):")
    console.print(key, highlight=False, soft_wrap=True)
    console.print(
        "clients send it as 'x-api-key: KEY' or 'Authorization: Bearer KEY'; "
        "the dashboard asks for it once per browser session"
    )
    if os.environ.get("CONVEYOR_API_KEY"):
        err_console.print("note: CONVEYOR_API_KEY is set and takes precedence over this file")
