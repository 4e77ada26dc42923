"""News of a deployment change within one process.

A model server that shares its process with the worker that deploys (``conveyor up``) loads
a new version as soon as its record is written, rather than at its next poll of the
records; servers in other processes still see the change at their next poll.
"""

from __future__ import annotations

import threading

_listeners: set[threading.Event] = set()
_lock = threading.Lock()


def subscribe() -> threading.Event:
    """An event set at each deployment change in this process (the caller clears it)."""
    event = threading.Event()
    with _lock:
        _listeners.add(event)
    return event


def unsubscribe(event: threading.Event) -> None:
    with _lock:
        _listeners.discard(event)


def announce() -> None:
    """Tell this process's listeners that a deployment record has changed."""
    with _lock:
        listeners = list(_listeners)
    for event in listeners:
        event.set()
