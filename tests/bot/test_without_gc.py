from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.collector import without_gc


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    gc.unfreeze()
    yield
    gc.unfreeze()
    if not was:
        gc.disable()


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the garbage collector frees it


def test_the_collector_is_off_inside_and_on_again_after(collector_on: None) -> None:
    with without_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_is_on_again_after_a_failure(collector_on: None) -> None:
    with pytest.raises(ImportError), without_gc():
        raise ImportError("a library is missing")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(collector_on: None) -> None:
    gc.disable()
    with without_gc():
        pass
    assert not gc.isenabled()
    gc.enable()


def test_what_the_imports_made_is_left_out_of_later_collections(collector_on: None) -> None:
    with without_gc():
        from_import = Node()
    seen = weakref.ref(from_import)
    del from_import
    gc.collect()
    assert seen() is not None  # frozen: the collector does not walk it
    gc.unfreeze()
    gc.collect()
    assert seen() is None


def test_nothing_is_frozen_when_the_imports_fail(collector_on: None) -> None:
    with pytest.raises(ImportError), without_gc():
        raise ImportError("a library is missing")
    assert gc.get_freeze_count() == 0
