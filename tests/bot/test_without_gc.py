from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.collector import without_gc


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


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
