"""Python's garbage collector in a long-running bot process.

Start-up: importing the bot's libraries creates some 300,000 objects that live as long as the
process, and almost none of them is garbage. The collector, triggered every 700 allocations,
walks them again and again: about 300 collections, a sixth of the import time. During the
imports it is off (``without_gc``), and on again (as it was) the moment they are done. What
they made is frozen first: otherwise the very next allocation starts a collection of the
youngest generation, which by then holds all 300,000 (0.1 s), and the next older one walks
them once more soon after (another 0.1 s), both before the bot's first ``getUpdates``.

Running: a full collection visits every object the process holds, and a wired bot holds over
a hundred thousand that live as long as it does: modules, the models, the catalogs, the
handlers. Each such collection (one every few hundred updates) took ~0.15 s of CPU, about
0.3 ms an update on average, and never found anything among them. Frozen (``startup_frozen``),
they are left out of every collection; what the updates allocate is collected as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def startup_frozen() -> Iterator[None]:
    """Leave what is alive now out of garbage collection until the block ends (the bot
    stops); then it is collected as before, for a process that goes on (a test, the demo).
    No collection first: at this point it finds next to nothing and takes ~0.4 s of the
    start."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def without_gc() -> Iterator[None]:
    """Run the block (imports) with the cyclic collector off; it is on again afterwards if it
    was before, also when the block raises. When the block succeeds, what is alive then is
    frozen: modules live as long as the process, and the collector need not walk them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if was_enabled:
            gc.enable()
