"""The bot's garbage collection (bot/collector.py): what lived at start is left out while the
bot runs, what the updates make is collected, and nothing stays frozen once the bot stops."""

from __future__ import annotations

import gc
import weakref

from bot.collector import startup_frozen


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the garbage collector frees it


def test_startup_objects_are_left_out_while_running_and_collected_after() -> None:
    gc.unfreeze()  # what importing the command line froze, in this test process
    from_start = Node()
    seen_from_start = weakref.ref(from_start)
    with startup_frozen():
        assert gc.get_freeze_count() > 0
        made_by_an_update = Node()
        seen_from_update = weakref.ref(made_by_an_update)
        del from_start, made_by_an_update
        gc.collect()
        assert seen_from_update() is None  # collected as ever
        assert seen_from_start() is not None  # frozen: not even looked at
    assert gc.get_freeze_count() == 0  # the process goes on unfrozen
    gc.collect()
    assert seen_from_start() is None


def test_a_failing_bot_leaves_nothing_frozen() -> None:
    try:
        with startup_frozen():
            raise RuntimeError("the bot stopped")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
