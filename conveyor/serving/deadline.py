"""A large batch scored on a thread of its own, within the request timeout
(``CONVEYOR_REQUEST_TIMEOUT_SECONDS``), for ``/predict`` and ``/invocations`` alike.

Python cannot stop a thread from outside, and the model's call cannot be interrupted: a batch
that outlives the timeout is answered 504 while its thread runs on to the end of its call.
What it leaves must not claim an answer, so the batch records into ``HeldRecords``, which the
event loop hands on to the server's recorder only once the batch finished in time; a late
batch's records are dropped with it. Each batch has a thread of its own rather than a pool's
worker, and holds no lock of the server's: an abandoned batch takes no slot or lock that a
later request would wait for (it only shares the CPU until its call returns).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from conveyor.inference.records import PendingRecord
from conveyor.serving.deps import ServerState
from conveyor.serving.recorder import InferenceRecorder
from conveyor.serving.request_limits import RequestLimits

T = TypeVar("T")


class HeldRecords(InferenceRecorder):
    """A batch's records, kept aside until its answer is known to reach the client."""

    def __init__(self, recorder: InferenceRecorder) -> None:  # writes nowhere itself
        self.enabled = recorder.enabled
        self.held: list[PendingRecord] = []
        self._recorder = recorder

    def takes_matrix(self, rows: int) -> bool:
        return self._recorder.takes_matrix(rows)

    def record(self, record: PendingRecord) -> None:
        if self.enabled:
            self.held.append(record)

    def hand_on(self, recorder: InferenceRecorder) -> None:
        for record in self.held:
            recorder.record(record)  # the capture rate applies there, as for any record


async def score_on_thread(
    state: ServerState,
    limits: RequestLimits,
    score: Callable[[ServerState], T],
    *,
    name: str,
) -> T:
    """``score(state)`` on a new thread called ``name``, awaited within the timeout; the
    records it makes reach ``state``'s recorder only if it finished in time.

    Raises:
        RequestTimeout: the batch outlived ``limits.timeout_seconds`` (its thread runs on,
            and its records are dropped).
        Whatever ``score`` raised, when it raised in time.
    """
    held = HeldRecords(state.recorder)
    own_state = replace(state, recorder=held)
    try:
        result = await _on_own_thread(lambda: score(own_state), limits.timeout_seconds, name)
    except TimeoutError:
        raise limits.timed_out() from None
    held.hand_on(state.recorder)
    return result


async def _on_own_thread(work: Callable[[], T], timeout: float, name: str) -> T:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if done.done():  # the timeout cancelled it: nobody waits for this batch any more
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def run() -> None:
        try:
            result = work()
        except BaseException as exc:  # handed to the awaiting request, which answers it
            outcome: tuple[T | None, BaseException | None] = (None, exc)
        else:
            outcome = (result, None)
        # A closed loop (RuntimeError): the server stopped before the batch ended.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, *outcome)

    # A daemon: a stopping server does not wait for a batch whose client was answered 504.
    threading.Thread(target=run, name=name, daemon=True).start()
    return await asyncio.wait_for(done, timeout)
