"""The datasets of a research export, each a fixed list of columns and a stream of rows.

Every query joins down to the membership, its team and municipality, and filters on the scope's
ids; rows carry the membership's study ID and never a person's Telegram id, chat id or name
(`persons` is never joined). Rows are streamed (`session.stream` + `yield_per`): nothing here
holds more than one response's answers at a time, so memory stays flat as data grows.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.exports.scope import ExportScope
from dialogs.questionnaires import Questionnaire, engine
from dialogs.questionnaires.model import TextItem
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
Row = tuple[Value, ...]

YIELD_PER = 1000
CHECKIN = "checkin"
# The outbox kinds that ask a person to answer a questionnaire (dialogs.delivery.kinds; not
# imported: that package belongs to the running bot).
PROMPT_KINDS = ("checkin", "checkin_reminder", "evaluation")
REMINDER_KIND = "checkin_reminder"
SCORE_PREFIX = "score_"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # string | integer | number | datetime | boolean
    description: str


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    columns: tuple[Column, ...]
    rows: Callable[[AsyncSession], AsyncIterator[Row]]
    count: Callable[[AsyncSession], Awaitable[int]]
    # For wide datasets: the questionnaire key and version whose items are the columns.
    questionnaire: tuple[str, str] | None = None
    # For wide datasets: the columns that are questionnaire items.
    items: tuple[str, ...] = ()


def questionnaire_key(occasion: str) -> str:
    """``checkin-3`` → ``checkin``; evaluation occasions are their questionnaire's key (the
    same rule as the bot's questionnaire handler)."""
    return CHECKIN if occasion.startswith(f"{CHECKIN}-") else occasion


def checkin_week(occasion: str | None) -> int | None:
    if not occasion or not occasion.startswith(f"{CHECKIN}-"):
        return None
    number = occasion.partition("-")[2]
    return int(number) if number.isdigit() else None


def wide_name(key: str, version: str) -> str:
    # Versions may hold "." and "-": fine in file names, awkward as sheet names in formulas.
    return f"responses_{key}_v{re.sub(r'[^A-Za-z0-9]', '_', version)}"


# --- shared pieces --------------------------------------------------------------------------

IDENTITY = (
    Column("study_id", "string", "Pseudonymous study ID of the participant (one per team "
           "membership); the only identifier in the export"),
    Column("municipality", "string", "Municipality running the team"),
    Column("team_id", "integer", "Team number (stable within this database)"),
    Column("team", "string", "Team name given by the municipality, e.g. 'Hold 3'"),
)
_IDENTITY_SQL = (Membership.study_id, Municipality.name, Team.id, Team.name)
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


async def _stream(session: AsyncSession, stmt: Select[Any]) -> AsyncIterator[Any]:
    result = await session.stream(stmt.execution_options(yield_per=YIELD_PER))
    async for row in result:
        yield row


def _counter(stmt: Select[Any]) -> Callable[[AsyncSession], Awaitable[int]]:
    async def count(session: AsyncSession) -> int:
        total = await session.scalar(select(func.count()).select_from(
            stmt.order_by(None).subquery()))
        return int(total or 0)
    return count


def _number(value: float | None) -> int | float | None:
    # 7.0 → 7: answers are whole numbers; scores keep their decimals.
    if value is None:
        return None
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def _text(value: str | None, scope: ExportScope) -> str | None:
    return value if scope.free_text else None


def _plain(value: Any) -> Value:
    # StrEnums from the models become plain strings for the writers.
    return str(value) if isinstance(value, str) else value


# --- participants -----------------------------------------------------------------------------

def participants(scope: ExportScope) -> Dataset:
    stmt = _scoped(select(*_IDENTITY_SQL, Membership.status, Membership.joined_at,
                          Membership.left_at).select_from(Membership), scope).order_by(*_ORDER)

    async def rows(session: AsyncSession) -> AsyncIterator[Row]:
        async for r in _stream(session, stmt):
            yield (*r[:4], _plain(r[4]), r[5], r[6])

    return Dataset(
        "participants",
        "One row per participant membership in scope (not date-filtered: the denominator)",
        (*IDENTITY,
         Column("status", "string", "active, or left (left the team)"),
         Column("joined_at", "datetime", "When the participant joined the team (UTC)"),
         Column("left_at", "datetime", "When the participant left the team (UTC), if they did")),
        rows, _counter(stmt),
    )


# --- questionnaire answers, long ----------------------------------------------------------

_RESPONSE_SQL = (QuestionnaireResponse.id, QuestionnaireResponse.questionnaire_key,
                 QuestionnaireResponse.questionnaire_version, QuestionnaireResponse.occasion,
                 QuestionnaireResponse.language)
_ANSWER_SQL = (Answer.item_key, Answer.value_number, Answer.value_text, Answer.skipped,
               Answer.answered_at)


def _responses_in_scope(stmt: Select[Any], scope: ExportScope) -> Select[Any]:
    stmt = _scoped(stmt.join(Membership, Membership.id == QuestionnaireResponse.membership_id),
                   scope).where(QuestionnaireResponse.started_at.is_not(None))
    return _dated(stmt, QuestionnaireResponse.started_at, scope)


def answers(
    scope: ExportScope, questionnaires: Mapping[str, Questionnaire], *, checkin: bool
) -> Dataset:
    stmt = select(*_IDENTITY_SQL, *_RESPONSE_SQL, *_ANSWER_SQL).select_from(Answer).join(
        QuestionnaireResponse, QuestionnaireResponse.id == Answer.response_id)
    stmt = _responses_in_scope(stmt, scope).where(
        QuestionnaireResponse.questionnaire_key == CHECKIN if checkin
        else QuestionnaireResponse.questionnaire_key != CHECKIN
    ).order_by(*_ORDER, QuestionnaireResponse.id, Answer.id)

    async def rows(session: AsyncSession) -> AsyncIterator[Row]:
        async for r in _stream(session, stmt):
            (study_id, municipality, team_id, team, response_id, key, version, occasion,
             language, item_key, number, text, skipped, answered_at) = r
            q = questionnaires.get(key)
            item = q.item(item_key) if q is not None else None
            week = (checkin_week(occasion),) if checkin else ()
            yield (study_id, municipality, team_id, team, response_id, key, version, occasion,
                   *week, _plain(language), item_key, item.type if item else None,
                   _number(number), _text(text, scope), bool(skipped), answered_at)

    week_column = (Column("week", "integer", "Course week (module) the check-in followed"),)
    return Dataset(
        "checkin_answers" if checkin else "evaluation_answers",
        ("Weekly check-in answers, one row per answer" if checkin
         else "Evaluation questionnaire answers (baseline, post, follow-up, and any "
              "evaluator-supplied questionnaire), one row per answer"),
        (*IDENTITY, *_RESPONSE_COLUMNS[:4], *(week_column if checkin else ()),
         _RESPONSE_COLUMNS[4], *_ANSWER_COLUMNS),
        rows, _counter(stmt),
    )


_RESPONSE_COLUMNS = (
    Column("response_id", "integer", "Number of the questionnaire response; joins long and "
           "wide files"),
    Column("questionnaire_key", "string", "Which questionnaire (see the codebook)"),
    Column("questionnaire_version", "string", "Version of the questionnaire file answered"),
    Column("occasion", "string", "baseline, post, followup, or checkin-N after webinar N"),
    Column("language", "string", "Language the questionnaire was shown in: da, nb or en"),
)
_ANSWER_COLUMNS = (
    Column("item_key", "string", "The item answered (see the codebook's item rows)"),
    Column("item_type", "string", "scale, choice, yesno or text"),
    Column("value", "number", "The answer: scale point, choice value, yes=1/no=0; empty for "
           "text items and skips"),
    Column("value_text", "string", "Free-text answer (text items); may contain identifying "
           "words; empty when exported with --no-free-text"),
    Column("skipped", "boolean", "1 if the participant skipped the item, else 0"),
    Column("answered_at", "datetime", "When the answer was given or last changed (UTC)"),
)


# --- questionnaire responses, wide; scores ------------------------------------------------

_TIMES_SQL = (QuestionnaireResponse.scheduled_at, QuestionnaireResponse.sent_at,
              QuestionnaireResponse.started_at, QuestionnaireResponse.completed_at)
_TIMES_COLUMNS = (
    Column("scheduled_at", "datetime", "When the questionnaire was planned, if recorded on the "
           "response (UTC); see prompts for the outbox's plan"),
    Column("sent_at", "datetime", "When the prompt went out, if recorded on the response (UTC)"),
    Column("started_at", "datetime", "When the participant opened the questionnaire (UTC)"),
    Column("completed_at", "datetime", "When the last item was answered (UTC); empty if "
           "unfinished"),
)


def _response_answers_stmt(scope: ExportScope) -> Select[Any]:
    # Outer join: a questionnaire opened but not answered yet is still one (empty) response.
    stmt = select(*_IDENTITY_SQL, *_RESPONSE_SQL, *_TIMES_SQL, *_ANSWER_SQL).select_from(
        QuestionnaireResponse).outerjoin(Answer, Answer.response_id == QuestionnaireResponse.id)
    return _responses_in_scope(stmt, scope)


async def _grouped(session: AsyncSession, stmt: Select[Any]) -> AsyncIterator[list[Any]]:
    """Rows of one response at a time (the query orders by response)."""
    group: list[Any] = []
    async for row in _stream(session, stmt):
        if group and group[0][4] != row[4]:
            yield group
            group = []
        group.append(row)
    if group:
        yield group


_ANSWER_START = 4 + len(_RESPONSE_SQL) + len(_TIMES_SQL)


def _values(group: Sequence[Any]) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    skipped: list[str] = []
    for row in group:
        item_key, number, text, was_skipped, _at = row[_ANSWER_START:]
        if item_key is None:
            continue  # the outer join's empty side
        if was_skipped:
            skipped.append(item_key)
            values[item_key] = None
        else:
            values[item_key] = number if number is not None else text
    return values, skipped


async def item_keys_in_data(
    session: AsyncSession, scope: ExportScope, key: str, version: str
) -> list[str]:
    stmt = _responses_in_scope(
        select(Answer.item_key).distinct().select_from(QuestionnaireResponse).join(
            Answer, Answer.response_id == QuestionnaireResponse.id), scope
    ).where(QuestionnaireResponse.questionnaire_key == key,
            QuestionnaireResponse.questionnaire_version == version)
    return sorted(await session.scalars(stmt))


async def versions_in_data(session: AsyncSession, scope: ExportScope) -> list[tuple[str, str]]:
    stmt = _responses_in_scope(
        select(QuestionnaireResponse.questionnaire_key,
               QuestionnaireResponse.questionnaire_version).distinct().select_from(
            QuestionnaireResponse), scope)
    return sorted((k, v) for k, v in (await session.execute(stmt)).all())


def wide_items(q: Questionnaire | None, in_data: Sequence[str]) -> list[str]:
    """The current file's items in order, then any item only the data knows (a removed item
    answered on an older version), so no answer is lost."""
    known = [item.key for item in q.items] if q is not None else []
    return known + [key for key in in_data if key not in known]


def responses_wide(
    scope: ExportScope, key: str, version: str, q: Questionnaire | None, items: Sequence[str]
) -> Dataset:
    scores = [rule.key for rule in q.scores] if q is not None else []
    score_columns = [f"{SCORE_PREFIX}{s}" for s in scores]
    fixed = {c.name for c in (*IDENTITY, *_RESPONSE_COLUMNS, *_TIMES_COLUMNS)}
    clash = (set(items) | set(score_columns)) & fixed | set(items) & set(score_columns)
    if clash:
        raise ValueError(f"questionnaire {key!r}: item or score keys {sorted(clash)} clash "
                         "with export columns; rename them in the data file")
    stmt = _response_answers_stmt(scope).where(
        QuestionnaireResponse.questionnaire_key == key,
        QuestionnaireResponse.questionnaire_version == version,
    ).order_by(*_ORDER, QuestionnaireResponse.id, Answer.id)
    text_items = {i.key for i in q.items if isinstance(i, TextItem)} if q is not None else set()

    async def rows(session: AsyncSession) -> AsyncIterator[Row]:
        async for group in _grouped(session, stmt):
            first = group[0]
            values, skipped = _values(group)
            computed = engine.score(q, {k: v for k, v in values.items()
                                        if not isinstance(v, str)}) if q is not None else {}
            cells = [
                (_text(values.get(k), scope) if k in text_items or isinstance(values.get(k), str)
                 else _number(values.get(k)))
                for k in items
            ]
            yield (*first[:4], first[4], first[5], first[6], first[7], _plain(first[8]),
                   *first[9:13], " ".join(skipped) or None, *cells,
                   *(computed.get(s) for s in scores))

    count_stmt = _responses_in_scope(select(QuestionnaireResponse.id).select_from(
        QuestionnaireResponse), scope).where(
        QuestionnaireResponse.questionnaire_key == key,
        QuestionnaireResponse.questionnaire_version == version)
    item_type = {i.key: i.type for i in q.items} if q is not None else {}
    return Dataset(
        wide_name(key, version),
        f"Questionnaire '{key}' version {version}: one row per response, one column per item "
        "and score",
        (*IDENTITY, *_RESPONSE_COLUMNS, *_TIMES_COLUMNS,
         Column("skipped_items", "string", "Items the participant skipped, separated by "
                "spaces (an empty item cell without it here was not reached)"),
         *(Column(k, "string" if item_type.get(k) == "text" else "number",
                  f"Item {k} (see item rows)") for k in items),
         *(Column(c, "number", f"Score {s} (see scoring)")
           for c, s in zip(score_columns, scores, strict=True))),
        rows, _counter(count_stmt), questionnaire=(key, version), items=tuple(items),
    )


def scores(scope: ExportScope, questionnaires: Mapping[str, Questionnaire]) -> Dataset:
    stmt = _response_answers_stmt(scope).order_by(*_ORDER, QuestionnaireResponse.id, Answer.id)

    async def rows(session: AsyncSession) -> AsyncIterator[Row]:
        async for group in _grouped(session, stmt):
            first = group[0]
            q = questionnaires.get(first[5])
            if q is None or not q.scores:
                continue
            values, _ = _values(group)
            numeric = {k: v for k, v in values.items() if not isinstance(v, str)}
            computed = engine.score(q, numeric)
            for rule in q.scores:
                answered = sum(1 for k in rule.items if numeric.get(k) is not None)
                yield (*first[:8], first[12], rule.key, rule.method, computed[rule.key],
                       answered, rule.needed)

    return Dataset(
        "scores",
        "Questionnaire scores recomputed from the answers with the current scoring rules, one "
        "row per response and score",
        (*IDENTITY, *_RESPONSE_COLUMNS[:4], _TIMES_COLUMNS[3],
         Column("score_key", "string", "Which score (see the codebook's score rows)"),
         Column("method", "string", "sum or mean"),
         Column("value", "number", "The score; empty when too few items were answered"),
         Column("items_answered", "integer", "Items of this score with an answer"),
         Column("items_needed", "integer", "Answers needed for a score")),
        rows, lambda session: count_scores(session, scope, questionnaires),
    )


async def count_scores(session: AsyncSession, scope: ExportScope,
                       questionnaires: Mapping[str, Questionnaire]) -> int:
    """Responses × the score rules of their questionnaire (a count without reading answers)."""
    stmt = _responses_in_scope(
        select(QuestionnaireResponse.questionnaire_key, func.count()).select_from(
            QuestionnaireResponse), scope).group_by(QuestionnaireResponse.questionnaire_key)
    total = 0
    for key, n in (await session.execute(stmt)).all():
        q = questionnaires.get(key)
        total += n * (len(q.scores) if q is not None else 0)
    return total


# --- action plans, attendance, module progress ----------------------------------------------

def action_plans(scope: ExportScope) -> Dataset:
    p = ActionPlan
    stmt = _dated(_scoped(select(*_IDENTITY_SQL, p.id, p.week, p.what, p.how_much, p.when,
                                 p.days_per_week, p.confidence, p.created_at, p.outcome,
                                 p.outcome_at).select_from(p).join(
        Membership, Membership.id == p.membership_id), scope), p.created_at, scope).order_by(
        *_ORDER, p.week, p.id)

    async def rows(session: AsyncSession) -> AsyncIterator[Row]:
        async for r in _stream(session, stmt):
            yield (*r[:6], _text(r[6], scope), _text(r[7], scope), _text(r[8], scope), *r[9:])

    free = " (free text; empty with --no-free-text)"
    return Dataset(
        "action_plans",
        "Weekly action plans, one row per plan",
        (*IDENTITY,
         Column("plan_id", "integer", "Number of the plan"),
         Column("week", "integer", "Course week 1-6 the plan is for"),
         Column("what", "string", "What the participant will do" + free),
         Column("how_much", "string", "How much" + free),
         Column("when", "string", "When" + free),
         Column("days_per_week", "integer", "On how many days (1-7)"),
         Column("confidence", "integer", "How sure they are to do all of it, 0-10"),
         Column("created_at", "datetime", "When the plan was made (UTC)"),
         Column("outcome", "string", "How it went, from the next check-in: done, partly, not, "
                "no_plan"),
         Column("outcome_at", "datetime", "When the outcome was given (UTC)")),
        rows, _counter(stmt),
    )


def attendance(scope: ExportScope) -> Dataset:
    w = WebinarSession
    stmt = _dated(_scoped(select(*_IDENTITY_SQL, w.module_no, w.starts_at, w.status,
                                 Attendance.attended, Attendance.marked_at).select_from(
        Attendance).join(w, w.id == Attendance.session_id).join(
        Membership, Membership.id == Attendance.membership_id), scope), w.starts_at,
        scope).order_by(*_ORDER, w.module_no)

    async def rows(session: AsyncSession) -> AsyncIterator[Row]:
        async for r in _stream(session, stmt):
            yield (*r[:6], _plain(r[6]), bool(r[7]), r[8])

    return Dataset(
        "attendance",
        "Webinar attendance as marked by the instructor, one row per participant and webinar",
        (*IDENTITY,
         Column("module_no", "integer", "Module 1-6 of the webinar"),
         Column("webinar_starts_at", "datetime", "Start of the webinar (UTC)"),
         Column("webinar_status", "string", "scheduled or cancelled"),
         Column("attended", "boolean", "1 attended, 0 did not"),
         Column("marked_at", "datetime", "When the instructor marked it (UTC)")),
        rows, _counter(stmt),
    )


def module_progress(scope: ExportScope) -> Dataset:
    m = ModuleProgress
    when = func.coalesce(m.opened_at, m.done_at, type_=UTCDateTime)
    stmt = _dated(_scoped(select(*_IDENTITY_SQL, m.module_no, m.opened_at, m.done_at)
                          .select_from(m).join(Membership, Membership.id == m.membership_id),
                          scope), when, scope).order_by(*_ORDER, m.module_no)

    async def rows(session: AsyncSession) -> AsyncIterator[Row]:
        async for r in _stream(session, stmt):
            yield tuple(r)

    return Dataset(
        "module_progress",
        "E-learning preparation per module, one row per participant and module opened",
        (*IDENTITY,
         Column("module_no", "integer", "Module 1-6"),
         Column("opened_at", "datetime", "When the module was sent/opened (UTC)"),
         Column("done_at", "datetime", "When the participant marked the preparation done (UTC)")),
        rows, _counter(stmt),
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
    qr = QuestionnaireResponse
    stmt = select(
        *_IDENTITY_SQL, o.id, o.kind, occasion, o.payload, o.due_at, o.expires_at, o.status,
        o.attempts, o.sent_at, prompts_sent, reminders_sent, qr.questionnaire_version,
        qr.language, qr.started_at, qr.completed_at,
    ).select_from(o).join(Membership, and_(Membership.id == membership_id,
                                           Membership.person_id == o.person_id))
    stmt = _scoped(stmt, scope).outerjoin(
        qr, and_(qr.membership_id == Membership.id, qr.occasion == occasion)
    ).where(o.kind.in_(PROMPT_KINDS))
    stmt = _dated(stmt, o.due_at, scope).order_by(*_ORDER, o.due_at, o.id)

    async def rows(session: AsyncSession) -> AsyncIterator[Row]:
        async for r in _stream(session, stmt):
            (study_id, municipality, team_id, team, outbox_id, kind, occ, payload, due, expires,
             status, attempts, sent_at, n_sent, n_reminders, version, language, started,
             completed) = r
            payload = payload or {}
            planned = str(payload.get("plan", "")).partition("|")[0]
            yield (study_id, municipality, team_id, team, outbox_id, kind, occ,
                   questionnaire_key(occ) if occ else None, payload.get("module_no"),
                   "asked_later_from" in payload, _parse(planned), due, expires,
                   _plain(status), attempts, sent_at, int(n_sent or 0), int(n_reminders or 0),
                   started, completed, version, _plain(language) if language else None)

    return Dataset(
        "prompts",
        "Paradata: every check-in and evaluation prompt and reminder the bot planned, with "
        "what became of it and of the questionnaire it asked for",
        (*IDENTITY,
         Column("prompt_id", "integer", "Number of the outbox message"),
         Column("kind", "string", "checkin, checkin_reminder or evaluation"),
         Column("occasion", "string", "baseline, post, followup, or checkin-N"),
         Column("questionnaire_key", "string", "The questionnaire the prompt asks for"),
         Column("module_no", "integer", "Module whose webinar the check-in follows"),
         Column("asked_again_later", "boolean", "1 if this prompt is a repeat the participant "
                "asked for with 'Not now'"),
         Column("planned_at", "datetime", "When the schedule planned it (UTC)"),
         Column("scheduled_at", "datetime", "When it was due after deferrals for quiet hours, "
                "pauses or rate limits (UTC)"),
         Column("expires_at", "datetime", "After this it is not sent (UTC)"),
         Column("status", "string", "sent, pending, expired (too late), cancelled (e.g. "
                "already answered), failed (not deliverable)"),
         Column("attempts", "integer", "Delivery attempts"),
         Column("sent_at", "datetime", "When Telegram accepted it (UTC)"),
         Column("prompts_sent_for_occasion", "integer", "Prompts and reminders sent for this "
                "occasion, this one included"),
         Column("reminders_sent", "integer", "Check-in reminders sent for this occasion"),
         Column("answered_started_at", "datetime", "When the questionnaire was opened (UTC)"),
         Column("answered_at", "datetime", "When the questionnaire was completed (UTC)"),
         Column("questionnaire_version", "string", "Version answered, once opened"),
         Column("language", "string", "Language answered in, once opened")),
        rows, _counter(stmt),
    )


def _parse(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


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
