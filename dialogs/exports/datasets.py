"""The datasets of a research export, each a fixed list of columns and a stream of rows.

Every query joins down to the membership, its team and municipality, and filters on the scope's
ids; rows carry the membership's study ID and never a person's Telegram id, chat id or name
(`persons` is never joined). Rows are streamed in batches (`Connection.stream` + `yield_per`).

Most datasets are one SQL query whose columns are the file's cells, already formatted in SQL
(`dialogs.exports.sql`), so their CSV is written straight from the database cursor. The wide
questionnaire files and the scores need one response's answers together and the scoring rules:
those rows are shaped in Python, one response at a time.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from dialogs.delivery.kinds import QUESTIONNAIRE_PROMPT_KINDS, Kind
from dialogs.exports.scope import ExportScope
from dialogs.exports.sql import (
    before_bar,
    flag,
    iso_text_utc,
    iso_utc,
    neutralise,
    plain,
    safe_text,
    whole,
)
from dialogs.occasion import CHECKIN, CHECKIN_PREFIX
from dialogs.questionnaires import ChoiceItem, Questionnaire, engine
from dialogs.questionnaires.model import Item
from locales.i18n import N_
from storage.models import (
    ActionPlan,
    Answer,
    Attendance,
    Membership,
    ModuleProgress,
    Municipality,
    OutboxMessage,
    OutboxStatus,
    QuestionnaireResponse,
    Role,
    Team,
    UTCDateTime,
    WebinarSession,
)

Value = str | int | float | bool | datetime | None
Row = Sequence[Value]

YIELD_PER = 5000
PROMPT_KINDS = tuple(str(kind) for kind in QUESTIONNAIRE_PROMPT_KINDS)
REMINDER_KIND = str(Kind.CHECKIN_REMINDER)
SCORE_PREFIX = "score_"
NONSUBSTANTIVE_SUFFIX = "_nonsub"
# Scores: 2 decimals, halves away from zero, the same number in every file format.
SCORE_DECIMALS = 2


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string | integer | number | datetime | boolean
    description: str  # an English message id: the codebook gives it in da, nb and en


@dataclass(frozen=True)
class Dataset:
    name: str
    columns: tuple[Column, ...]
    # The rows in file order. For a dataset without `shape` its columns are the file's cells.
    query: Select[Any]
    count_query: Select[Any]
    # Python step for datasets that need it: query rows in, file rows out, batch by batch.
    shape: Callable[[AsyncIterator[Sequence[Any]]], AsyncIterator[list[Row]]] | None = None
    # Wide datasets: the questionnaire key and version whose items are the columns, the item
    # columns, and the code column of each item that has non-substantive answers.
    questionnaire: tuple[str, str] | None = None
    items: tuple[str, ...] = ()
    nonsubstantive: Mapping[str, str] | None = None

    async def count(self, session: AsyncSession) -> int:
        return int(await session.scalar(self.count_query) or 0)

    async def batches(self, session: AsyncSession) -> AsyncIterator[list[Row]]:
        """The file's rows, a batch at a time."""
        # aclosing: the stream's prefetch is cancelled even when the caller stops early.
        async with aclosing(_stream(session, self.query)) as raw:
            if self.shape is None:
                async for part in raw:
                    yield part  # type: ignore[misc]
            else:
                async for part in self.shape(raw):
                    yield part


async def _stream(session: AsyncSession, stmt: Select[Any]) -> AsyncIterator[Sequence[Any]]:
    # Core, not the ORM session: a column-only SELECT needs none of the ORM's per-row work.
    connection = await session.connection()
    result = await connection.stream(stmt.execution_options(yield_per=YIELD_PER))
    parts = result.partitions().__aiter__()
    # The next batch is fetched while the caller writes this one: aiosqlite runs SQLite in
    # its own thread, so the query and the CSV writer overlap instead of taking turns.
    pending = asyncio.ensure_future(anext(parts, None))
    try:
        while (part := await pending) is not None:
            pending = asyncio.ensure_future(anext(parts, None))
            await asyncio.sleep(0)  # let that fetch reach the driver before we hand back
            yield part
    finally:
        pending.cancel()


def _counted(stmt: Select[Any]) -> Select[Any]:
    return select(func.count()).select_from(stmt.order_by(None).subquery())


# Occasions (dialogs.occasion) read in SQL, so a million rows are never parsed one by one.


def checkin_occasion_week(occasion: ColumnElement[str]) -> ColumnElement[int]:
    """``checkin-3`` → 3, other occasions → NULL."""
    return case((occasion.like(f"{CHECKIN_PREFIX}%"),
                 cast(func.substr(occasion, len(CHECKIN_PREFIX) + 1), Integer)), else_=null())


def occasion_questionnaire(occasion: ColumnElement[str]) -> ColumnElement[str]:
    """``checkin-3`` → ``checkin``; evaluation occasions are their questionnaire's key."""
    return case((occasion.like(f"{CHECKIN_PREFIX}%"), literal(CHECKIN)), else_=occasion)


def wide_name(key: str, version: str) -> str:
    # Versions may hold "." and "-": fine in file names, awkward as sheet names in formulas.
    return f"responses_{key}_v{re.sub(r'[^A-Za-z0-9]', '_', version)}"


def round_score(value: float | None) -> float | None:
    """The one rounding rule for scores: 2 decimals, halves away from zero, on the score's
    shortest decimal form (so 6.665 is 6.67 however the float stores it)."""
    if value is None:
        return None
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-SCORE_DECIMALS), ROUND_HALF_UP)
    return number(float(rounded))


def number(value: float | None) -> int | float | None:
    # 7.0 → 7: answers are whole numbers; scores keep their decimals.
    if value is None:
        return None
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


# --- shared pieces --------------------------------------------------------------------------

IDENTITY = (
    Column("study_id", "string", N_("Pseudonymous study ID of the participant (one per team "
                                    "membership); the only identifier in the export")),
    Column("municipality", "string", N_("Municipality running the team")),
    Column("team_id", "integer", N_("Team number (stable within this database)")),
    Column("team", "string", N_("Team name given by the municipality, e.g. 'Hold 3'")),
    Column("team_timezone", "string", N_("Time zone the team's course is planned in (IANA "
                                         "name, e.g. Europe/Copenhagen): for local times of "
                                         "day")),
)


def _identity_sql() -> tuple[ColumnElement[Any], ...]:
    return (Membership.study_id, safe_text(Municipality.name), Team.id, safe_text(Team.name),
            Team.timezone)


_ORDER = (Municipality.name, Team.name, Membership.study_id)


def _scoped(stmt: Select[Any], scope: ExportScope) -> Select[Any]:
    stmt = stmt.join(Team, Team.id == Membership.team_id).join(
        Municipality, Municipality.id == Team.municipality_id
    ).where(
        Team.municipality_id.in_(scope.municipality_ids),
        Membership.role == Role.PARTICIPANT,
    )
    if scope.team_ids is not None:
        stmt = stmt.where(Team.id.in_(scope.team_ids))
    return stmt


def _dated(stmt: Select[Any], column: ColumnElement[Any], scope: ExportScope) -> Select[Any]:
    if scope.since is not None:
        stmt = stmt.where(column >= scope.since)
    if scope.until is not None:
        stmt = stmt.where(column < scope.until)
    return stmt


def _free(value: ColumnElement[Any], scope: ExportScope) -> ColumnElement[Any]:
    # Free-text answers and plan wording are health data that may name people.
    if scope.free_text:
        return safe_text(value)
    # Labelled: several empty columns in one SELECT must stay apart.
    return type_coerce(null(), value.type).label(f"withheld_{value.key}")


# --- participants -----------------------------------------------------------------------------

def participants(scope: ExportScope) -> Dataset:
    stmt = _scoped(select(*_identity_sql(), plain(Membership.status),
                          iso_utc(Membership.joined_at), iso_utc(Membership.left_at))
                   .select_from(Membership), scope).order_by(*_ORDER)
    return Dataset(
        "participants",
        (*IDENTITY,
         Column("status", "string", N_("active, or left (left the team)")),
         Column("joined_at", "datetime", N_("When the participant joined the team (UTC)")),
         Column("left_at", "datetime", N_("When the participant left the team (UTC), if they "
                                          "did"))),
        stmt, _counted(stmt),
    )


# --- questionnaire answers, long ----------------------------------------------------------

QR = QuestionnaireResponse

_RESPONSE_COLUMNS = (
    Column("response_id", "integer", N_("Number of the questionnaire response; joins long, "
                                        "wide, scores and prompts files")),
    Column("questionnaire_key", "string", N_("Which questionnaire (see the codebook)")),
    Column("questionnaire_version", "string", N_("Version of the questionnaire file "
                                                 "answered")),
    Column("occasion", "string", N_("baseline, post, followup, or checkin-N after webinar N")),
    Column("language", "string", N_("Language the questionnaire was shown in: da, nb or en")),
)
_WEEK = Column("week", "integer", N_("Course week (module) the check-in followed"))
_COMPLETE = Column("response_complete", "boolean", N_("1 if the participant finished the "
                                                      "questionnaire, 0 if they stopped "
                                                      "before the end"))
_VALUE_NONSUB = Column(
    "value_nonsubstantive", "number",
    N_("Code of a non-substantive answer (e.g. 9 = I don't know, 0 = I had no plan; see the "
       "item's values in the codebook); then value is empty, so a mean never includes it"))
_ANSWER_COLUMNS = (
    Column("item_key", "string", N_("The item answered (see the codebook's item rows)")),
    Column("item_type", "string", N_("scale, choice, yesno or text")),
    Column("value", "number", N_("The answer: scale point, choice value, yes=1/no=0; empty "
                                 "for text items, skips and non-substantive answers")),
    _VALUE_NONSUB,
    Column("value_text", "string", N_("Free-text answer (text items); may contain identifying "
                                      "words; empty when exported with --no-free-text")),
    Column("skipped", "boolean", N_("1 if the participant skipped the item, else 0")),
    Column("answered_at", "datetime", N_("When the answer was given or last changed (UTC)")),
)


def _responses_in_scope(stmt: Select[Any], scope: ExportScope) -> Select[Any]:
    stmt = _scoped(stmt.join(Membership, Membership.id == QR.membership_id),
                   scope).where(QR.started_at.is_not(None))
    return _dated(stmt, QR.started_at, scope)


def _nonsubstantive(questionnaires: Mapping[str, Questionnaire]) -> list[tuple[str, str,
                                                                           tuple[int, ...]]]:
    return [(key, item.key, item.nonsubstantive_values)
            for key, q in sorted(questionnaires.items()) for item in q.items
            if isinstance(item, ChoiceItem) and item.nonsubstantive_values]


def _is_nonsubstantive(questionnaires: Mapping[str, Questionnaire]) -> ColumnElement[bool]:
    cases = [and_(QR.questionnaire_key == key, Answer.item_key == item,
                  Answer.value_number.in_([float(v) for v in values]))
             for key, item, values in _nonsubstantive(questionnaires)]
    return or_(*cases) if cases else literal(False)


def _item_type(questionnaires: Mapping[str, Questionnaire]) -> ColumnElement[str]:
    by_type: dict[tuple[str, str], list[str]] = {}
    for key, q in sorted(questionnaires.items()):
        for item in q.items:
            by_type.setdefault((key, item.type), []).append(item.key)
    whens = [(and_(QR.questionnaire_key == key, Answer.item_key.in_(items)), literal(kind))
             for (key, kind), items in by_type.items()]
    return plain(case(*whens, else_=null())) if whens else plain(null())


def answers(
    scope: ExportScope, questionnaires: Mapping[str, Questionnaire], *, checkin: bool
) -> Dataset:
    odd = _is_nonsubstantive(questionnaires)
    stmt = select(
        *_identity_sql(), QR.id, QR.questionnaire_key, QR.questionnaire_version, QR.occasion,
        *((checkin_occasion_week(QR.occasion),) if checkin else ()), plain(QR.language),
        flag(QR.completed_at.is_not(None)), Answer.item_key, _item_type(questionnaires),
        case((odd, null()), else_=whole(Answer.value_number)),
        case((odd, whole(Answer.value_number)), else_=null()),
        _free(Answer.value_text, scope), flag(Answer.skipped), iso_utc(Answer.answered_at),
    ).select_from(Answer).join(QR, QR.id == Answer.response_id)
    stmt = _responses_in_scope(stmt, scope).where(
        QR.questionnaire_key == CHECKIN if checkin else QR.questionnaire_key != CHECKIN
    ).order_by(*_ORDER, QR.id, Answer.id)
    return Dataset(
        "checkin_answers" if checkin else "evaluation_answers",
        (*IDENTITY, *_RESPONSE_COLUMNS[:4], *((_WEEK,) if checkin else ()),
         _RESPONSE_COLUMNS[4], _COMPLETE, *_ANSWER_COLUMNS),
        stmt, _counted(stmt),
    )


# --- questionnaire responses, wide; scores ------------------------------------------------

_TIMES_COLUMNS = (
    Column("prompt_id", "integer", N_("The prompt that led to the response: the last prompt or "
                                      "reminder for this occasion sent before the "
                                      "questionnaire was opened (see prompts); empty if none "
                                      "was")),
    Column("scheduled_at", "datetime", N_("When that prompt was due, after deferrals for quiet "
                                          "hours, pauses or rate limits (UTC)")),
    Column("sent_at", "datetime", N_("When that prompt was sent (UTC)")),
    Column("prompts_before_start", "integer", N_("Prompts and reminders for this occasion sent "
                                                 "before the questionnaire was opened")),
    Column("started_at", "datetime", N_("When the participant opened the questionnaire "
                                        "(UTC)")),
    Column("completed_at", "datetime", N_("When the last item was answered (UTC); empty if "
                                          "unfinished")),
    _COMPLETE,
    Column("safety_shown_at", "datetime", N_("When the safety message with emergency numbers "
                                             "was shown for an answer at or below an item's "
                                             "safety threshold (UTC); empty if it was not")),
)


def _prompts_of(response: Any, membership: Any) -> Any:
    """Sent prompts and reminders for a response's membership and occasion, before it began."""
    o = aliased(OutboxMessage)
    return o, and_(
        o.person_id == membership.person_id, o.kind.in_(PROMPT_KINDS),
        o.status == OutboxStatus.SENT, o.sent_at <= response.started_at,
        o.payload["membership_id"].as_integer() == response.membership_id,
        o.payload["occasion"].as_string() == response.occasion,
    )


def _responses_with_prompts(scope: ExportScope, *where: ColumnElement[bool]) -> Any:
    """Responses in scope with the prompt that led to each (materialised once, not per
    answer row)."""
    o, sent_before = _prompts_of(QR, Membership)
    led = select(o.id).where(sent_before).order_by(o.sent_at.desc(), o.id.desc()).limit(1)
    o2, sent_before_2 = _prompts_of(QR, Membership)
    before = select(func.count(o2.id)).where(sent_before_2)
    stmt = _responses_in_scope(select(
        *_identity_sql(), QR.id.label("response_id"), QR.questionnaire_key,
        QR.questionnaire_version, QR.occasion, plain(QR.language).label("language"),
        led.scalar_subquery().label("prompt_id"),
        before.scalar_subquery().label("prompts_before_start"),
        iso_utc(QR.started_at).label("started_at"),
        iso_utc(QR.completed_at).label("completed_at"),
        flag(QR.completed_at.is_not(None)).label("complete"),
        iso_utc(QR.safety_shown_at).label("safety_shown_at"),
        Municipality.name.label("m_order"), Team.name.label("t_order"),
    ).select_from(QR), scope).where(*where)
    return stmt.cte("responses").prefix_with("MATERIALIZED")


def _wide_stmt(responses: Any) -> Select[Any]:
    r = responses.c
    p = aliased(OutboxMessage)
    return select(
        *list(r)[:5], r.response_id, r.questionnaire_key, r.questionnaire_version, r.occasion,
        r.language, r.prompt_id, iso_utc(p.due_at), iso_utc(p.sent_at), r.prompts_before_start,
        r.started_at, r.completed_at, r.complete, r.safety_shown_at,
        Answer.item_key, Answer.value_number, Answer.value_text, Answer.skipped,
    ).select_from(responses).outerjoin(p, p.id == r.prompt_id).outerjoin(
        # Outer join: a questionnaire opened but not answered yet is still one (empty) row.
        Answer, Answer.response_id == r.response_id,
    ).order_by(r.m_order, r.t_order, r.study_id, r.response_id, Answer.id)


_HEAD = 5 + len(_RESPONSE_COLUMNS) + len(_TIMES_COLUMNS)  # the response's own cells
_RESPONSE_ID = 5
_COMPLETED_AT = 5 + len(_RESPONSE_COLUMNS) + 5


async def _grouped(rows: AsyncIterator[Sequence[Any]]) -> AsyncIterator[list[Sequence[Any]]]:
    """The query's rows, one response at a time (the query orders by response)."""
    group: list[Sequence[Any]] = []
    async for part in rows:
        for row in part:
            if group and group[0][_RESPONSE_ID] != row[_RESPONSE_ID]:
                yield group
                group = []
            group.append(row)
    if group:
        yield group


@dataclass(frozen=True)
class _Answers:
    values: dict[str, float | str | None]
    skipped: list[str]


def _answers(group: Sequence[Sequence[Any]]) -> _Answers:
    values: dict[str, float | str | None] = {}
    skipped: list[str] = []
    for row in group:
        item_key, value, text, was_skipped = row[_HEAD:]
        if item_key is None:
            continue  # the outer join's empty side
        if was_skipped:
            skipped.append(item_key)
            values[item_key] = None
        else:
            values[item_key] = value if value is not None else text
    return _Answers(values, skipped)


def _scored(q: Questionnaire | None, answers: _Answers) -> dict[str, float | None]:
    if q is None:
        return {}
    numeric = {k: v for k, v in answers.values.items() if not isinstance(v, str)}
    return {key: round_score(value) for key, value in engine.score(q, numeric).items()}


async def item_keys_in_data(
    session: AsyncSession, scope: ExportScope, key: str, version: str
) -> list[str]:
    stmt = _responses_in_scope(
        select(Answer.item_key).distinct().select_from(QR).join(
            Answer, Answer.response_id == QR.id), scope
    ).where(QR.questionnaire_key == key, QR.questionnaire_version == version)
    return sorted(await session.scalars(stmt))


async def versions_in_data(session: AsyncSession, scope: ExportScope) -> list[tuple[str, str]]:
    stmt = _responses_in_scope(
        select(QR.questionnaire_key, QR.questionnaire_version).distinct().select_from(QR),
        scope)
    return sorted((k, v) for k, v in (await session.execute(stmt)).all())


def wide_items(q: Questionnaire | None, in_data: Sequence[str]) -> list[str]:
    """The current file's items in order, then any item only the data knows (a removed item
    answered on an older version), so no answer is lost."""
    known = [item.key for item in q.items] if q is not None else []
    return known + [key for key in in_data if key not in known]


def _cell(item: Item | None, value: float | str | None, free_text: bool) -> Value:
    if isinstance(value, str):
        return neutralise(value) if free_text else None
    if engine.is_nonsubstantive(item, value):
        return None
    return number(value)


def responses_wide(
    scope: ExportScope, key: str, version: str, q: Questionnaire | None, items: Sequence[str]
) -> Dataset:
    scores = [rule.key for rule in q.scores] if q is not None else []
    score_columns = [f"{SCORE_PREFIX}{s}" for s in scores]
    odd = {k: f"{k}{NONSUBSTANTIVE_SUFFIX}" for k in items
           if q is not None and isinstance(q.item(k), ChoiceItem)
           and q.item(k).nonsubstantive_values}  # type: ignore[union-attr]
    fixed = {c.name for c in (*IDENTITY, *_RESPONSE_COLUMNS, *_TIMES_COLUMNS)}
    added = [*score_columns, *odd.values()]
    clash = (set(items) | set(added)) & (fixed | {"skipped_items"}) | set(items) & set(added)
    if clash:
        raise ValueError(f"questionnaire {key!r}: item or score keys {sorted(clash)} clash "
                         "with export columns; rename them in the data file")
    responses = _responses_with_prompts(scope, QR.questionnaire_key == key,
                                        QR.questionnaire_version == version)
    stmt = _wide_stmt(responses)
    item_of = {k: q.item(k) if q is not None else None for k in items}
    free_text = scope.free_text

    async def shape(rows: AsyncIterator[Sequence[Any]]) -> AsyncIterator[list[Row]]:
        batch: list[Row] = []
        async for group in _grouped(rows):
            head = group[0][:_HEAD]
            found = _answers(group)
            computed = _scored(q, found)
            cells = []
            for k in items:
                value = found.values.get(k)
                cells.append(_cell(item_of[k], value, free_text))
                if k in odd:
                    cells.append(number(value) if engine.is_nonsubstantive(item_of[k], value)  # type: ignore[arg-type]
                                 else None)
            batch.append((*head, " ".join(found.skipped) or None, *cells,
                          *(computed.get(s) for s in scores)))
            if len(batch) >= YIELD_PER:
                yield batch
                batch = []
        if batch:
            yield batch

    item_type = {i.key: i.type for i in q.items} if q is not None else {}
    item_columns: list[Column] = []
    for k in items:
        item_columns.append(Column(k, "string" if item_type.get(k) == "text" else "number",
                                   N_("Item answer (see the item's row)")))
        if k in odd:
            item_columns.append(Column(odd[k], "number", _VALUE_NONSUB.description))
    return Dataset(
        wide_name(key, version),
        (*IDENTITY, *_RESPONSE_COLUMNS, *_TIMES_COLUMNS,
         Column("skipped_items", "string", N_("Items the participant skipped, separated by "
                                              "spaces (an empty item cell without it here was "
                                              "not reached)")),
         *item_columns,
         *(Column(c, "number", N_("Score (see the score's row)")) for c in score_columns)),
        stmt, _counted(_responses_in_scope(select(QR.id).select_from(QR), scope).where(
            QR.questionnaire_key == key, QR.questionnaire_version == version)),
        shape=shape, questionnaire=(key, version), items=tuple(items), nonsubstantive=odd,
    )


def scores(scope: ExportScope, questionnaires: Mapping[str, Questionnaire]) -> Dataset:
    scored = sorted(k for k, q in questionnaires.items() if q.scores)
    responses = _responses_with_prompts(scope, QR.questionnaire_key.in_(scored))
    stmt = _wide_stmt(responses)

    async def shape(rows: AsyncIterator[Sequence[Any]]) -> AsyncIterator[list[Row]]:
        batch: list[Row] = []
        async for group in _grouped(rows):
            first = group[0]
            q = questionnaires[first[6]]
            found = _answers(group)
            computed = _scored(q, found)
            for rule in q.scores:
                answered = sum(1 for k in rule.items if found.values.get(k) is not None
                               and not engine.is_nonsubstantive(q.item(k), found.values[k]))
                batch.append((*first[:9], first[_COMPLETED_AT], rule.key, rule.method,
                              computed[rule.key], answered, rule.needed))
            if len(batch) >= YIELD_PER:
                yield batch
                batch = []
        if batch:
            yield batch

    return Dataset(
        "scores",
        (*IDENTITY, *_RESPONSE_COLUMNS[:4], _TIMES_COLUMNS[5],
         Column("score_key", "string", N_("Which score (see the codebook's score rows)")),
         Column("method", "string", N_("sum or mean")),
         Column("value", "number", N_("The score, rounded to 2 decimals (halves away from "
                                      "zero); empty when too few items were answered")),
         Column("items_answered", "integer", N_("Items of this score with a substantive "
                                                "answer")),
         Column("items_needed", "integer", N_("Answers needed for a score"))),
        stmt, _count_scores(scope, questionnaires), shape=shape,
    )


def _count_scores(scope: ExportScope, questionnaires: Mapping[str, Questionnaire]) -> Select[Any]:
    """Responses × the score rules of their questionnaire (a count without reading answers)."""
    per_key = case(*[(QR.questionnaire_key == k, len(q.scores))
                     for k, q in sorted(questionnaires.items()) if q.scores], else_=0) \
        if any(q.scores for q in questionnaires.values()) else literal(0)
    return _responses_in_scope(select(func.coalesce(func.sum(per_key), 0)).select_from(QR),
                               scope)


# --- action plans, attendance, module progress ----------------------------------------------

def action_plans(scope: ExportScope) -> Dataset:
    p = ActionPlan
    stmt = _dated(_scoped(select(
        *_identity_sql(), p.id, p.week, _free(p.what, scope), _free(p.how_much, scope),
        _free(p.when, scope), p.days_per_week, p.confidence, iso_utc(p.created_at), p.outcome,
        iso_utc(p.outcome_at),
    ).select_from(p).join(Membership, Membership.id == p.membership_id), scope), p.created_at,
        scope).order_by(*_ORDER, p.week, p.id)
    return Dataset(
        "action_plans",
        (*IDENTITY,
         Column("plan_id", "integer", N_("Number of the plan")),
         Column("week", "integer", N_("Course week 1-6 the plan is for")),
         Column("what", "string", N_("What the participant will do (free text; empty with "
                                     "--no-free-text)")),
         Column("how_much", "string", N_("How much (free text; empty with --no-free-text)")),
         Column("when", "string", N_("When (free text; empty with --no-free-text)")),
         Column("days_per_week", "integer", N_("On how many days (1-7)")),
         Column("confidence", "integer", N_("How sure they are to do all of it, 0-10")),
         Column("created_at", "datetime", N_("When the plan was made (UTC)")),
         Column("outcome", "string", N_("How it went, from the next check-in: done, partly, "
                                        "not, no_plan")),
         Column("outcome_at", "datetime", N_("When the outcome was given (UTC)"))),
        stmt, _counted(stmt),
    )


def attendance(scope: ExportScope) -> Dataset:
    w = WebinarSession
    stmt = _dated(_scoped(select(
        *_identity_sql(), w.module_no, iso_utc(w.starts_at), plain(w.status),
        flag(Attendance.attended), iso_utc(Attendance.marked_at),
    ).select_from(Attendance).join(w, w.id == Attendance.session_id).join(
        Membership, Membership.id == Attendance.membership_id), scope), w.starts_at,
        scope).order_by(*_ORDER, w.module_no)
    return Dataset(
        "attendance",
        (*IDENTITY,
         Column("module_no", "integer", N_("Module 1-6 of the webinar")),
         Column("webinar_starts_at", "datetime", N_("Start of the webinar (UTC)")),
         Column("webinar_status", "string", N_("scheduled or cancelled")),
         Column("attended", "boolean", N_("1 attended, 0 did not")),
         Column("marked_at", "datetime", N_("When the instructor marked it (UTC)"))),
        stmt, _counted(stmt),
    )


def module_progress(scope: ExportScope) -> Dataset:
    m = ModuleProgress
    when = func.coalesce(m.opened_at, m.done_at, type_=UTCDateTime)
    stmt = _dated(_scoped(select(*_identity_sql(), m.module_no, iso_utc(m.opened_at),
                                 iso_utc(m.done_at))
                          .select_from(m).join(Membership, Membership.id == m.membership_id),
                          scope), when, scope).order_by(*_ORDER, m.module_no)
    return Dataset(
        "module_progress",
        (*IDENTITY,
         Column("module_no", "integer", N_("Module 1-6")),
         Column("opened_at", "datetime", N_("When the module was sent/opened (UTC)")),
         Column("done_at", "datetime", N_("When the participant marked the preparation done "
                                          "(UTC)"))),
        stmt, _counted(stmt),
    )


# --- prompts (paradata) -------------------------------------------------------------------

def prompts(scope: ExportScope) -> Dataset:
    o = OutboxMessage
    membership_id = o.payload["membership_id"].as_integer()
    occasion = o.payload["occasion"].as_string()
    sent = o.status == OutboxStatus.SENT
    per_occasion = {"partition_by": (o.person_id, membership_id, occasion)}
    reminders_sent = func.sum(case((and_(sent, o.kind == REMINDER_KIND), 1), else_=0)).over(
        **per_occasion)
    prompts_sent = func.sum(case((sent, 1), else_=0)).over(**per_occasion)
    # This row's place among the sent ones: NULL for a row that was not sent.
    sent_order = case((sent, func.sum(case((sent, 1), else_=0)).over(
        **per_occasion, order_by=(o.sent_at, o.id))), else_=null())
    qr = QuestionnaireResponse
    stmt = select(
        *_identity_sql(), o.id, plain(o.kind), occasion,
        occasion_questionnaire(occasion),
        o.payload["module_no"].as_integer(), flag(o.payload["asked_later_from"].as_string()
                                                  .is_not(None)),
        iso_text_utc(before_bar(o.payload["plan"].as_string())),
        iso_utc(o.due_at), iso_utc(o.expires_at), plain(o.status), o.attempts,
        iso_utc(o.sent_at), sent_order, prompts_sent, reminders_sent, qr.id,
        iso_utc(qr.started_at), iso_utc(qr.completed_at), qr.questionnaire_version,
        plain(qr.language),
    ).select_from(o).join(Membership, and_(Membership.id == membership_id,
                                           Membership.person_id == o.person_id))
    stmt = _scoped(stmt, scope).outerjoin(
        qr, and_(qr.membership_id == Membership.id, qr.occasion == occasion)
    ).where(o.kind.in_(PROMPT_KINDS))
    stmt = _dated(stmt, o.due_at, scope).order_by(*_ORDER, o.due_at, o.id)
    return Dataset(
        "prompts",
        (*IDENTITY,
         Column("prompt_id", "integer", N_("Number of the outbox message")),
         Column("kind", "string", N_("checkin, checkin_reminder or evaluation")),
         Column("occasion", "string", N_("baseline, post, followup, or checkin-N")),
         Column("questionnaire_key", "string", N_("The questionnaire the prompt asks for")),
         Column("module_no", "integer", N_("Module whose webinar the check-in follows")),
         Column("asked_again_later", "boolean", N_("1 if this prompt is a repeat the "
                                                   "participant asked for with 'Not now'")),
         Column("planned_at", "datetime", N_("When the schedule planned it (UTC)")),
         Column("scheduled_at", "datetime", N_("When it was due after deferrals for quiet "
                                               "hours, pauses or rate limits (UTC)")),
         Column("expires_at", "datetime", N_("After this it is not sent (UTC)")),
         Column("status", "string", N_("sent, pending, expired (too late), cancelled (e.g. "
                                       "already answered), failed (not deliverable)")),
         Column("attempts", "integer", N_("Delivery attempts")),
         Column("sent_at", "datetime", N_("When Telegram accepted it (UTC)")),
         Column("sent_order", "integer", N_("1 for the first prompt sent for this occasion, 2 "
                                            "for the next, …; empty for a prompt that was not "
                                            "sent")),
         Column("prompts_sent_for_occasion", "integer", N_("Prompts and reminders sent for this "
                                                           "occasion in all (the same on every "
                                                           "row of the occasion)")),
         Column("reminders_sent", "integer", N_("Check-in reminders sent for this occasion in "
                                                "all (the same on every row of the "
                                                "occasion)")),
         Column("response_id", "integer", N_("The questionnaire response of this occasion, once "
                                             "opened (joins the wide and long files)")),
         Column("answered_started_at", "datetime", N_("When the questionnaire was opened "
                                                      "(UTC)")),
         Column("answered_at", "datetime", N_("When the questionnaire was completed (UTC)")),
         Column("questionnaire_version", "string", N_("Version answered, once opened")),
         Column("language", "string", N_("Language answered in, once opened"))),
        stmt, _counted(stmt),
    )


# --- all of them --------------------------------------------------------------------------

async def build(
    session: AsyncSession, scope: ExportScope, questionnaires: Mapping[str, Questionnaire]
) -> list[Dataset]:
    """Every data dataset of an export, in file order (the codebook and export info are added
    by the caller). Wide datasets depend on which questionnaire versions the data holds."""
    found: list[Dataset] = [
        participants(scope),
        answers(scope, questionnaires, checkin=True),
        answers(scope, questionnaires, checkin=False),
    ]
    for key, version in await versions_in_data(session, scope):
        # An older version of a file we still ship is matched by item key (as the bot does
        # when a file changes mid-response) and scored with today's rules.
        q = questionnaires.get(key)
        in_data = await item_keys_in_data(session, scope, key, version)
        found.append(responses_wide(scope, key, version, q, wide_items(q, in_data)))
    found += [scores(scope, questionnaires), action_plans(scope), attendance(scope),
              module_progress(scope), prompts(scope)]
    return found


def wide(datasets: Iterable[Dataset]) -> list[Dataset]:
    return [d for d in datasets if d.questionnaire is not None]
