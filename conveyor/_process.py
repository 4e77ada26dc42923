"""Whether a process exists, for the workers and jobs that outlive the one that started them."""

from __future__ import annotations

import os


def pid_exists(pid: int) -> bool:
    """True if a process ``pid`` exists (a zombie included), even one of another user."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
