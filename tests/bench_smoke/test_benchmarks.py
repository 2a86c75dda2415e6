"""The benchmarks, small, as a smoke test of what they measure (docs/benchmarks.md): each runs
end to end against real processes and checks its answers — never a time, which belongs to the
benchmark run itself."""

from __future__ import annotations

import itertools

from bench import memory_budget, planner, updates


def test_updates_every_update_is_answered_with_its_screen() -> None:
    ours, bare = updates.compare(people=20, rate=10.0, seconds=1.0)
    for figures in (ours, bare):
        assert figures.updates == 20 * len(updates.STEPS)  # /course, a module, /help each
        assert figures.samples == 10
        assert (figures.late, figures.wrong) == (0, 0)


async def test_planner_replans_nothing_unchanged_and_a_join_plans_that_person() -> None:
    figures = await planner.measure(participants=40, teams=3, big_team=20, history=2, starts=1)
    assert figures.planned_rows > 0
    assert figures.replan_wrote == 0
    assert figures.join_planned_for == [{user} for user in figures.joined]
    assert figures.ours.answered
    assert figures.bare.answered
    # Every start is reported, with the CPU it had used by its first getUpdates.
    for starts in (figures.ours_starts, figures.bare_starts):
        assert len(starts) == 1
        assert 0 < starts[0].cpu_at_first <= starts[0].cpu_until_idle


def test_memory_budget_measures_every_layer() -> None:
    """Each layer's modules import (a renamed module fails here) and each adds memory: none
    was already imported by a layer before it."""
    sizes = memory_budget.measure(repeats=1)
    assert len(sizes) == len(memory_budget.LAYERS) + 1
    added = [after - before for before, after in itertools.pairwise(sizes)]
    ptb, sqlalchemy, ours, locale_data = added[0], added[1], added[-2], added[-1]
    assert min(ptb, sqlalchemy, ours, locale_data) > 0.5
