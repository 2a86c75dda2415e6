"""De-duplication keys of outbox rows, built and read here and nowhere else.

A key names what a message is about, so planning or announcing the same thing twice adds one
row (``outbox.add_rows`` skips a key that exists). Keys are stored in
``outbox_messages.dedup_key``: changing a shape makes every row planned before it look new, so
each shape is written once, below.

    m<membership>:<kind>:<part>:…           planned for a participant, or announced to them
    later:<outbox id>                       "Not now": the same prompt once more
    b<broadcast>:m<membership>              one copy of an instructor's broadcast
    b<broadcast>:report:<unix time>         the instructor's delivery report, per look
"""

from __future__ import annotations

from datetime import datetime

from dialogs.delivery.kinds import ANNOUNCED_KINDS, Kind


def member(membership_id: int, kind: str, *parts: object) -> str:
    """A message to one participant in one team, about what ``parts`` name."""
    return member_prefix(membership_id) + ":".join((str(kind), *map(str, parts)))


def member_prefix(membership_id: int) -> str:
    """What every key of :func:`member` for this membership starts with."""
    return f"m{membership_id}:"


def member_of(key: str) -> int | None:
    """The membership a :func:`member` key belongs to (None for other keys)."""
    head, sep, _ = key.partition(":")
    if not sep or not head.startswith("m") or not head[1:].isdecimal():
        return None
    return int(head[1:])


def checkin_prompt(membership_id: int, module_no: int) -> str:
    """The check-in after webinar ``module_no`` (its reminder asks only once this went out)."""
    return member(membership_id, Kind.CHECKIN, module_no)


def webinar_announcement(membership_id: int, kind: str, webinar_id: int, change: str) -> str:
    """A move or cancellation of one webinar; ``change`` names the new state, so the same
    change announced twice is one message and a new change is a new one."""
    return member(membership_id, kind, webinar_id, change)


def announced_webinar(key: str) -> int | None:
    """The webinar a :func:`webinar_announcement` key is about (None for other keys)."""
    parts = key.split(":")
    if len(parts) != 4 or parts[1] not in ANNOUNCED_KINDS or not parts[2].isdecimal():
        return None
    return int(parts[2])


def asked_later(outbox_id: int) -> str:
    return f"later:{outbox_id}"


def broadcast_copy(broadcast_id: int, membership_id: int) -> str:
    return f"b{broadcast_id}:m{membership_id}"


def broadcast_report(broadcast_id: int, due_at: datetime) -> str:
    """The report's key names the moment it looks, so a later look is a new row."""
    return f"b{broadcast_id}:report:{int(due_at.timestamp())}"
