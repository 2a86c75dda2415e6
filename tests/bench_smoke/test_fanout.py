"""bench/fanout.py, small, as a smoke test: the reminders a fan-out sends, with the local Bot
API's limits off and on, each reach their person once, the limits are never hit, and /help is
answered meanwhile. Never a time: that is the benchmark's own run (docs/benchmarks.md)."""

from __future__ import annotations

from bench import fanout


async def test_a_fan_out_sends_every_reminder_once_and_keeps_to_the_limits() -> None:
    results = await fanout.measure(participants=200, teams=14, limited=60, bare=False)
    unpaced, paced = results.unpaced, results.paced
    assert (unpaced.sent, unpaced.chats) == (200, 200)  # every reminder, each once
    assert (paced.sent, paced.chats) == (60, 60)
    assert paced.too_many == 0  # no 429 with Telegram's limits on
    assert paced.help_samples >= 1  # /help was answered during the fan-out
