"""`conveyor init`: a key printed once, kept 0600 in the home, which `conveyor serve` then
requires; a second init refuses to replace it unless asked (--rotate)."""

from __future__ import annotations

import json
import stat
import urllib.error
import urllib.request

from conveyor.config import API_KEY_FILE
from tests.e2e.conftest import Cli, json_of
from tests.e2e.ui_helpers import conveyor_up


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, object]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_init_prints_a_key_once_and_the_server_then_requires_it(cli: Cli) -> None:
    home = cli.home  # type: ignore[attr-defined]
    result = cli("init")
    assert result.returncode == 0, result.stderr
    key_file = home / API_KEY_FILE
    key = key_file.read_text().strip()
    assert len(key) >= 43  # 32 random bytes, URL-safe base64
    assert result.stdout.count(key) == 1
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    again = cli("init")
    assert again.returncode == 5
    assert "already holds this home's API key" in again.stdout + again.stderr
    assert key_file.read_text().strip() == key

    with conveyor_up(home, command="serve") as base:
        status, body = _get(f"{base}/api/v1/projects")
        assert status == 401 and body["error"] == "unauthorized"  # type: ignore[index]
        assert _get(f"{base}/api/v1/projects", {"x-api-key": "guess"})[0] == 403
        assert _get(f"{base}/api/v1/projects", {"x-api-key": key}) == (200, [])
        assert _get(f"{base}/health")[0] == 200


def test_init_rotate_replaces_the_key(cli: Cli) -> None:
    first = json_of(cli("init", "--json"))["api_key"]
    second = json_of(cli("init", "--rotate", "--json"))
    assert second["api_key"] != first
    key_file = cli.home / API_KEY_FILE  # type: ignore[attr-defined]
    assert second["key_file"] == str(key_file)
    assert key_file.read_text().strip() == second["api_key"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
