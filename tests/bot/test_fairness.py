"""Fairness: one chat cannot take the others' processing slots, a flood gets one calm note,
and replies wait out Telegram's flood control instead of failing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from telegram import Update
from telegram.error import RetryAfter

from bot import turn
from bot.replies import ReplyLimiter
from bot.sandbox import Sandbox
from bot.timing import Timing
from bot.updates import ChatOrderedUpdateProcessor, FloodGuard, Verdict


@dataclass
class FakeTime:
    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    @property
    def timing(self) -> Timing:
        return Timing(self, self.sleep)


_ids = iter(range(1, 1_000_000))


def message_from(user_id: int) -> Update:
    return Update.de_json({"update_id": next(_ids), "message": {
        "message_id": 1, "date": 0, "text": "hej",
        "chat": {"id": user_id, "type": "private", "first_name": "P"},
        "from": {"id": user_id, "is_bot": False, "first_name": "P"},
    }}, None)


# -- the flood guard ---------------------------------------------------------------------------


def test_a_flood_gets_one_note_and_the_rest_is_dropped_for_that_person_only() -> None:
    time = FakeTime()
    guard = FloodGuard(max_updates=20, window=10.0, timing=time.timing)
    verdicts = [guard.admit(1) for _ in range(25)]
    assert verdicts == [Verdict.HANDLE] * 20 + [Verdict.NOTE] + [Verdict.DROP] * 4
    assert guard.admit(2) is Verdict.HANDLE  # nobody else is held back
    time.now += 5
    assert guard.admit(1) is Verdict.DROP  # still flooding: no second note
    time.now += 11
    assert guard.admit(1) is Verdict.HANDLE  # calm again
    for _ in range(19):
        guard.admit(1)
    assert guard.admit(1) is Verdict.NOTE  # a new flood, a new note


def test_people_who_went_quiet_are_forgotten() -> None:
    time = FakeTime()
    guard = FloodGuard(max_updates=2, window=10.0, timing=time.timing)
    for person in range(1000):
        guard.admit(person)
    time.now += 30
    guard.admit(5000)
    assert len(guard._handled) == 1


# -- the processor -----------------------------------------------------------------------------


async def test_a_busy_chat_takes_one_slot_and_its_queue_takes_none() -> None:
    processor = ChatOrderedUpdateProcessor(max_concurrent_updates=2)
    release = asyncio.Event()
    order: list[str] = []

    async def slow(name: str) -> None:
        order.append(name)
        await release.wait()

    async def quick(name: str) -> None:
        order.append(name)

    flooding = [asyncio.create_task(processor.process_update(
        message_from(1), slow(f"a{n}"))) for n in range(10)]
    await asyncio.sleep(0)
    other = message_from(2)
    # Another person's update is handled while chat 1's first update still holds its slot
    # and nine more wait for it.
    await asyncio.wait_for(processor.process_update(other, quick("b")), 5)
    await processor.wait_handled(other.update_id)
    assert order == ["a0", "b"]
    assert processor.busy == 1
    release.set()
    await asyncio.gather(*flooding)
    assert order == ["a0", "b", *(f"a{n}" for n in range(1, 10))]  # chat 1 kept its order


async def test_a_flood_is_noted_once_and_dropped_before_it_queues() -> None:
    time = FakeTime()
    processor = ChatOrderedUpdateProcessor(
        flood=FloodGuard(max_updates=20, window=10.0, timing=time.timing))
    ran: list[tuple[int, bool]] = []

    async def handle(n: int) -> None:
        current = turn.current()
        assert current is not None
        ran.append((n, current.flood_note))

    updates = [message_from(1) for _ in range(25)]
    await asyncio.gather(*(processor.process_update(u, handle(n))
                           for n, u in enumerate(updates)))
    assert [n for n, _ in ran] == list(range(21))
    assert [n for n, note in ran if note] == [20]  # the guard handler answers it with a note
    for update in updates:  # dropped ones count as handled for whoever waits for them
        await processor.wait_handled(update.update_id, within_seconds=1)


# -- the replies' 429 waits --------------------------------------------------------------------


def _retry_after(seconds: int) -> RetryAfter:
    return RetryAfter(timedelta(seconds=seconds))


async def test_a_reply_that_meets_a_429_waits_and_is_sent() -> None:
    time = FakeTime()
    limiter = ReplyLimiter(max_wait=60, timing=time.timing)
    answers: list[Any] = [_retry_after(5), _retry_after(7), {"message_id": 1}]

    async def send() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    result = await limiter.process_request(send, (), {}, "sendMessage", {"chat_id": 5}, None)
    assert result == {"message_id": 1}
    assert time.slept == pytest.approx([5.1, 7.1])


async def test_a_reply_is_given_up_only_past_its_staleness() -> None:
    time = FakeTime()
    limiter = ReplyLimiter(max_wait=60, timing=time.timing)

    async def flooded() -> Any:
        raise _retry_after(40)

    with pytest.raises(RetryAfter):
        await limiter.process_request(flooded, (), {}, "sendMessage", {"chat_id": 5}, None)
    assert time.slept == pytest.approx([40.1])  # one wait fitted in 60 s, the second did not
    with pytest.raises(RetryAfter):  # rate_limit_args=0: try once, never wait
        await limiter.process_request(flooded, (), {}, "sendMessage", {"chat_id": 5}, 0.0)
    assert len(time.slept) == 1


async def test_a_button_is_answered_at_most_once_per_update() -> None:
    limiter = ReplyLimiter(timing=FakeTime().timing)
    calls: list[str] = []

    async def answer() -> bool:
        calls.append("answer")
        return True

    async def one_update() -> None:
        turn.begin()
        for _ in range(2):
            assert await limiter.process_request(answer, (), {}, "answerCallbackQuery",
                                                 {"callback_query_id": "1"}, None)

    await asyncio.create_task(one_update())
    assert calls == ["answer"]


# -- through the real Application ------------------------------------------------------------


async def test_help_during_a_flood_control_storm_is_answered_after_the_wait(
    sandbox: Sandbox,
) -> None:
    sandbox.api.add_user(9901, "Bo", language_code="en")
    sandbox.api.faults.storm_429(3, retry_after=5)  # Telegram: everybody wait 5 s, three times
    await sandbox.send_text(9901, "/help")
    refused = [c for c in sandbox.api.calls if c.method == "sendMessage" and not c.ok]
    sent = [c for c in sandbox.api.calls if c.method == "sendMessage" and c.ok]
    assert len(refused) == 3
    assert len(sent) == 1
    assert "/course" in (sent[0].params["text"])  # the help itself, not an apology
