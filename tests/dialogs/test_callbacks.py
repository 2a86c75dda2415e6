from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.callbacks import MAX_BYTES, Callback, CallbackDataError, callback, decode

tokens = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"),
    min_size=1,
    max_size=12,
)


@given(action=tokens, args=st.lists(tokens, max_size=3))
def test_callback_data_round_trips_within_telegrams_limit(action: str, args: list[str]) -> None:
    original = Callback(action, tuple(args))
    data = original.encode()
    assert 1 <= len(data.encode()) <= MAX_BYTES
    assert decode(data) == original


@given(st.text(max_size=80))
def test_foreign_callback_data_is_refused_not_crashed(data: str) -> None:
    try:
        decoded = decode(data)
    except CallbackDataError:
        return
    assert decoded.encode() == data


def test_too_long_callback_data_is_refused_when_made() -> None:
    with pytest.raises(ValueError, match="longer than 64 bytes"):
        callback("x", "a" * 64)
