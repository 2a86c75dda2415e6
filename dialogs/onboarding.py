"""Joining a team from an invite link: language, what the bot does, consent, age, name.

Nothing about a person is stored before they consent: until then every step is carried by the
buttons themselves (language and invite code in the callback data), and a "no" leaves no trace.
Consent, membership and study ID are then stored together in one transaction.

Because nothing is stored, the steps that matter prove themselves: "Yes, I agree" is signed
by the privacy notice that showed it, and "I am 18 or older" by the screen that followed a
"yes" (``dialogs.signing``), for this person, this invite and this language, for a day. A
forged later button cannot skip consent.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs import signing
from dialogs.callbacks import INT, TEXT, Action, callback, one_of
from dialogs.course import open_module, participant_membership
from dialogs.invites import (
    WRONG_ROLE,
    Granted,
    Guesser,
    InviteCheck,
    InviteStatus,
    Newcomer,
    check_invite,
    redeem_invite,
)
from dialogs.language import LANGUAGE_NAMES
from dialogs.names import MAX_NAME_LENGTH, clean_name
from dialogs.screen import Button, Screen, escape
from locales.i18n import SUPPORTED_LOCALES, Tr
from storage import queries
from storage.models import (
    Invite,
    InviteRole,
    Municipality,
    Person,
    Role,
    Team,
)

PRIVACY_NOTICE_VERSION = "2026-11b"
STEP_VALID_FOR = timedelta(days=1)

# Before consent nothing is stored: each button carries the language and the invite code;
# "yes" to consent and to age also carry the proof that the server showed them (issued, mac).
_LOCALE = one_of(*SUPPORTED_LOCALES)
LANGUAGE = Action("ol", _LOCALE, TEXT)  # ol:<locale>:<invite code>
ABOUT = Action("oa", _LOCALE, TEXT)
CONSENT_YES = Action("oc", _LOCALE, TEXT, INT, TEXT)  # …:<code>:<issued>:<mac>
CONSENT_NO = Action("on", _LOCALE)
ADULT_YES = Action("o18", _LOCALE, TEXT, INT, TEXT)
ADULT_NO = Action("ou", _LOCALE)
NAME_KEEP = Action("onk")
NAME_WRITE = Action("onw")


# -- steps that prove themselves -------------------------------------------------------------


@dataclass(frozen=True)
class Proof:
    """That the server showed the button of ``step`` to this person, for this invite."""

    issued: int
    mac: str

    @property
    def args(self) -> tuple[int, str]:
        return self.issued, self.mac


def _proof_parts(step: str, telegram_user_id: int, code: str, locale: str) -> tuple[object, ...]:
    return ("onboarding", step, telegram_user_id, code, locale)


def prove(
    secret: bytes, step: str, telegram_user_id: int, code: str, locale: str, now: datetime
) -> Proof:
    return Proof(*signing.sign(secret, _proof_parts(step, telegram_user_id, code, locale), now))


def proven(
    secret: bytes, step: str, telegram_user_id: int, code: str, locale: str,
    args: tuple[str, ...], now: datetime,
) -> bool:
    """``args`` (issued, mac) prove that ``step``'s button was shown to this person lately."""
    try:
        issued_text, mac = args
        issued = int(issued_text)
    except ValueError:
        return False
    return signing.verify(secret, _proof_parts(step, telegram_user_id, code, locale), issued,
                          mac, now, STEP_VALID_FOR)


# -- use-cases -------------------------------------------------------------------------------


class JoinStatus(enum.StrEnum):
    JOINED = "joined"
    ALREADY_MEMBER = "already_member"
    OTHER_TEAM = "other_team"
    STAFF_INVITE = "staff_invite"
    INVITE_INVALID = "invite_invalid"


@dataclass(frozen=True)
class TeamInfo:
    team_id: int
    team_name: str
    municipality_name: str


@dataclass(frozen=True)
class Invitation:
    """What /start with a code leads to, before anything is stored."""

    check: InviteCheck
    team: TeamInfo | None = None
    existing: JoinStatus | None = None  # ALREADY_MEMBER / OTHER_TEAM for known people


async def _team_info(session: AsyncSession, team_id: int) -> TeamInfo:
    team = await session.get(Team, team_id)
    assert team is not None
    municipality = await session.get(Municipality, team.municipality_id)
    assert municipality is not None
    return TeamInfo(team.id, team.name, municipality.name)


async def _existing_membership_status(
    session: AsyncSession, telegram_user_id: int, team_id: int
) -> tuple[JoinStatus | None, Person | None]:
    person = await queries.get_person_by_telegram_id(session, telegram_user_id)
    if person is None:
        return None, None
    membership = await participant_membership(session, person.id)
    if membership is None:
        return None, person
    if membership.team_id == team_id:
        return JoinStatus.ALREADY_MEMBER, person
    return JoinStatus.OTHER_TEAM, person


async def look_up_invitation(
    session: AsyncSession, code: str, guesser: Guesser, now: datetime
) -> Invitation:
    """What the code leads to for the person who brought it (throttled, see Guesser)."""
    telegram_user_id = guesser.telegram_user_id
    check = await check_invite(session, code, now, guesser=guesser)
    if not check.ok or check.invite is None or check.invite.team_id is None:
        return Invitation(check)
    team = await _team_info(session, check.invite.team_id)
    existing, _ = await _existing_membership_status(session, telegram_user_id, team.team_id)
    return Invitation(check, team, existing)


@dataclass(frozen=True)
class JoinResult:
    status: JoinStatus
    team: TeamInfo | None = None
    membership_id: int | None = None
    study_id: str | None = None
    invite_status: InviteStatus = InviteStatus.OK  # why, for INVITE_INVALID


@dataclass(frozen=True)
class ParticipantAdmission:
    """Redeeming a participant invite: one team, no staff, module 1 opened on joining."""

    role: InviteRole = InviteRole.PARTICIPANT
    consent_version: str = PRIVACY_NOTICE_VERSION

    async def refusal(
        self, session: AsyncSession, invite: Invite, person: Person | None
    ) -> str | None:
        if person is None:
            return None
        membership = await participant_membership(session, person.id)
        if membership is None:
            return None
        return JoinStatus.ALREADY_MEMBER if membership.team_id == invite.team_id \
            else JoinStatus.OTHER_TEAM

    async def admit(
        self, session: AsyncSession, invite: Invite, person: Person, now: datetime
    ) -> Granted:
        team = await session.get(Team, invite.team_id)
        assert team is not None
        membership = await queries.add_membership(session, person, team, now=now)
        membership.joined_at = now
        await open_module(session, membership.id, 1, now)
        return Granted(membership.study_id, {"team_id": team.id, "role": str(Role.PARTICIPANT)},
                       membership.id)


async def join_team(
    session: AsyncSession,
    *,
    code: str,
    telegram_user_id: int,
    chat_id: int,
    locale: str,
    telegram_language_code: str | None,
    now: datetime,
    throttle_secret: bytes,
) -> JoinResult:
    """Consent given and 18+ confirmed: store the person, their consent and membership."""
    redemption = await redeem_invite(
        session, code, ParticipantAdmission(),
        Newcomer(telegram_user_id, chat_id, locale, telegram_language_code, chose_locale=True),
        now, throttle_secret=throttle_secret,
    )
    invite = redemption.invite
    if redemption.refusal == WRONG_ROLE:
        return JoinResult(JoinStatus.STAFF_INVITE)
    if invite is None or invite.team_id is None or redemption.status is not InviteStatus.OK:
        return JoinResult(JoinStatus.INVITE_INVALID, invite_status=redemption.status)
    team_info = await _team_info(session, invite.team_id)
    if redemption.refusal is not None:
        return JoinResult(JoinStatus(redemption.refusal), team_info)
    assert redemption.granted is not None
    return JoinResult(JoinStatus.JOINED, team_info, redemption.granted.made_id,
                      redemption.granted.subject)



async def set_display_name(session: AsyncSession, person_id: int, name: str) -> None:
    person = await session.get(Person, person_id)
    assert person is not None
    person.display_name = name


# -- screens ---------------------------------------------------------------------------------


def invite_problem_screen(tr: Tr, status: InviteStatus) -> Screen:
    match status:
        case InviteStatus.EXPIRED:
            text = tr._("This invite link has expired.")
        case InviteStatus.REVOKED:
            text = tr._("This invite link is no longer valid.")
        case InviteStatus.USED_UP:
            text = tr._("This invite link has already been used.")
        case InviteStatus.THROTTLED:
            return throttled_screen(tr)
        case _:
            text = tr._("I could not find that invite code. Check that you opened the whole link.")
    return Screen.of(text + "\n\n" + tr._(
        "Ask your municipality or your instructor for a new link."
    ))


def throttled_screen(tr: Tr) -> Screen:
    return Screen.of(tr._(
        "That was too many wrong codes. Please wait an hour and then open your link again."
    ))


def choose_language_screen(tr: Tr, team: TeamInfo, code: str) -> Screen:
    buttons = [
        Button(("✓ " if lang == tr.locale else "") + LANGUAGE_NAMES[lang],
               callback(LANGUAGE, lang, code))
        for lang in SUPPORTED_LOCALES
    ]
    text = "\n\n".join((
        tr._("Welcome! You are invited to the coping course with {team}.",
             team=escape(team.team_name)),
        tr._("Which language should I use?"),
    ))
    return Screen.of(text, buttons)


def about_screen(tr: Tr, code: str) -> Screen:
    text = "\n\n".join((
        tr._("<b>What I do</b>"),
        tr._(
            "Over six weeks I send you each module when it opens. "
            "I remind you of the webinars. "
            "Each week I ask a few short questions about how you are."
        ),
        tr._("You decide how much you use me. You can pause me at any time."),
    ))
    return Screen.of(text, [Button(tr._("Continue ›"), callback(ABOUT, tr.locale, code))])


def privacy_screen(tr: Tr, team: TeamInfo, code: str, consent: Proof) -> Screen:
    text = "\n\n".join((
        tr._("<b>Your data</b>"),
        tr._(
            "If you say yes, I save your answers, your progress and the name you choose. "
            "{municipality} is responsible for your data.",
            municipality=escape(team.municipality_name),
        ),
        tr._(
            "Your instructor sees your name and progress, not your answers. "
            "Researchers get your answers under a code number, never your name."
        ),
        tr._("You can see or delete your data at any time."),
        tr._("If you withdraw your consent, I stop writing to you and delete your data."),
        "<i>" + tr._("Privacy notice, version {version}", version=PRIVACY_NOTICE_VERSION) + "</i>",
    ))
    return Screen.of(
        text,
        [Button(tr._("Yes, I agree"), callback(CONSENT_YES, tr.locale, code, *consent.args))],
        [Button(tr._("No, thank you"), callback(CONSENT_NO, tr.locale))],
    )


def adult_screen(tr: Tr, code: str, adult: Proof) -> Screen:
    return Screen.of(
        tr._("The course is for adults. Are you 18 or older?"),
        [
            Button(tr._("Yes, I am 18 or older"),
                   callback(ADULT_YES, tr.locale, code, *adult.args)),
            Button(tr._("No"), callback(ADULT_NO, tr.locale)),
        ],
    )


def step_expired_screen(tr: Tr) -> Screen:
    return Screen.of("\n\n".join((
        tr._("This button is too old, or it is not from your own invite."),
        tr._("Please open your invite link again. I have not saved anything about you."),
    )))


def refused_screen(tr: Tr) -> Screen:
    return Screen.of("\n\n".join((
        tr._("That is fine. I have not saved anything about you."),
        tr._("If you change your mind, just open the invite link again."),
    )))


def under_age_screen(tr: Tr) -> Screen:
    return Screen.of("\n\n".join((
        tr._("This course is for adults, so you cannot join it. "
             "I have not saved anything about you."),
        tr._("Your doctor or your municipality can tell you about offers for young people."),
    )))


def name_question_screen(tr: Tr, first_name: str | None) -> Screen:
    rows: list[list[Button]] = []
    suggestion = clean_name(first_name or "")
    if suggestion:
        rows.append([Button(tr._("Use “{name}”", name=suggestion), callback(NAME_KEEP))])
    rows.append([Button(tr._("Write another name"), callback(NAME_WRITE))])
    return Screen.of(tr._("What name should your instructor and team see?"), *rows)


def write_name_screen(tr: Tr) -> Screen:
    return Screen.of(tr._("Write the name you want to use. A first name is fine."))


def bad_name_screen(tr: Tr) -> Screen:
    return Screen.of(tr._(
        "Please write a name with letters, at most {max} characters.", max=MAX_NAME_LENGTH
    ))


def welcome_in_team_screen(tr: Tr, name: str, team_name: str) -> Screen:
    return Screen.of(tr._(
        "Thank you, {name}! You are now in {team}.", name=escape(name), team=escape(team_name)
    ))


def name_changed_screen(tr: Tr, name: str) -> Screen:
    return Screen.of(tr._("Your name is now {name}.", name=escape(name)))


def already_member_screen(tr: Tr, team: TeamInfo) -> Screen:
    return Screen.of(tr._(
        "You are already in {team}. Type /course to see the modules.",
        team=escape(team.team_name),
    ))


def other_team_screen(tr: Tr) -> Screen:
    return Screen.of(tr._(
        "You are already in another team. If you should change team, "
        "please ask your instructor or your municipality."
    ))


def staff_invite_screen(tr: Tr) -> Screen:
    return Screen.of(tr._(
        "This link is for course staff. Open the link again to sign up as staff."
    ))
