"""Named points on the paths where schedulers and people meet.

A guarantee is only as good as the interleaving a test can force. At each point below the code
calls `reached(name)`; in production nothing is registered and the call is one dictionary lookup.
A test registers a hook (`at(name, hook)`) that waits on a barrier or runs a competing action,
so the race it proves closed is the exact one, not a lucky one.

Points:
- `claim.set_aside`: a claim has set aside what is too late (not committed), before it takes rows.
- `claim.locked`: a claim has taken its rows (locked, not committed).
- `start.before`: a sender is about to put claimed deliveries on the wire (nothing locked yet).
- `start.locked`: the start step has its rows `publishing` (not committed).
- `send.before`: the request is about to leave (its start committed).
- `record.committed`: outcomes were committed (the connection may still drop).
- `person.locked`: a person's action holds the post's deliveries locked (not committed).
- `lift.locked`: a request to lift, or its confirmation, holds the queue lock (not committed).
- `declare.polled`: a declaration's wait has read what is still on the wire (not let go yet).
- `settle.read`: a post's status is about to be derived from its deliveries as just read.
- `remind.read`: a reminder pass has read the blackouts to remind of (nothing taken yet).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

_hooks: dict[str, Callable[[], None]] = {}


def reached(point: str) -> None:
    hook = _hooks.get(point)
    if hook is not None:
        hook()


@contextmanager
def at(point: str, hook: Callable[[], None]) -> Iterator[None]:
    """Run `hook` whenever `point` is reached, until the block ends."""
    _hooks[point] = hook
    try:
        yield
    finally:
        _hooks.pop(point, None)
