"""Waiting for the engine's operations on the caller's side: sync calls
wait with the GIL released, async ones complete on their event loop; each
drains its progress events and the clients' log lines on that thread."""

import asyncio
import json
import logging
import weakref
from typing import Any, Callable, Dict, Optional

from ._errors import error_from

_LIVE: 'weakref.WeakSet[Any]' = weakref.WeakSet()  # the clients whose log lines are emitted
_LEVELS = [logging.DEBUG, logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]  # the engine's trace..error


def _emit_logs() -> None:
    """What the clients' flows logged, through their loggers, on this thread."""
    for client in list(_LIVE):
        handle = client._handle
        if handle is None or client.logger is None:
            continue
        for level, text in handle.take_logs():
            client.logger.log(_LEVELS[level] if 0 <= level < len(_LEVELS) else logging.INFO, text)


def _progress_events(op: Any, progress: Optional[Callable[[Dict[str, Any]], Any]]) -> None:
    _emit_logs()
    events = op.take_progress()
    if progress is not None:
        for e in events:
            progress(json.loads(e))


def _result(op: Any) -> Any:
    code, message, diagnostics, result = op.outcome()
    if code:
        raise error_from(code, message, diagnostics)
    return json.loads(result) if result else None


def _wait(op: Any, progress: Optional[Callable] = None) -> Any:
    """Waits with the GIL released. Ctrl-C cancels the flow (the export job
    on the server too), waits for it to wind down (no partial file stays),
    then raises KeyboardInterrupt."""
    try:
        while not op.wait(0.2):
            _progress_events(op, progress)
    except KeyboardInterrupt:
        op.cancel()
        while not op.wait(0.2):
            _progress_events(op, None)  # drained: a pending event would end each wait at once
        raise
    _progress_events(op, progress)
    return _result(op)


async def _await(op: Any, progress: Optional[Callable] = None) -> Any:
    """Completes on the running loop; cancelling the task cancels the flow
    and waits for it to wind down before the CancelledError goes on."""
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()

    def wake_on_loop() -> None:
        _progress_events(op, progress)
        woken.set()

    def notify() -> None:  # on the I/O thread, with the GIL
        try:
            loop.call_soon_threadsafe(wake_on_loop)
        except RuntimeError:
            pass  # the loop is closed: nobody waits

    op.set_notify(notify)
    try:
        while not op.done():
            await woken.wait()
            woken.clear()
    except asyncio.CancelledError:
        op.cancel()
        while not op.done():
            await asyncio.sleep(0.01)
        raise
    finally:
        op.set_notify(None)
    _progress_events(op, progress)
    return _result(op)


