"""What the bot's own messages look like: webinar reminders and changes, gentle nudges, and the
prompts for check-ins and questionnaires (each with "Not now").

Plain screens; ``dialogs.outbox_render`` loads the facts and picks the reader's language.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dialogs.callbacks import INT, Action, Arg, callback
from dialogs.course import STEP
from dialogs.occasion import Occasion
from dialogs.screen import Button, Screen
from locales.i18n import N_, Tr

# q:start:<occasion>  — handled by the questionnaire dialogs
QUESTIONNAIRE = Action("q", forms={"start": (Arg(Occasion.parse, str(Occasion.BASELINE)),)})
LATER = Action("later", INT)  # later:<outbox id>  — "Not now": ask again later, no penalty


def _join(tr: Tr, join_url: str | None) -> list[Button]:
    return [Button(tr._("Join the webinar"), url=join_url)] if join_url else []


def _start_or_later(tr: Tr, occasion: Occasion, outbox_id: int) -> tuple[list[Button], ...]:
    return (
        [Button(tr._("Start"), callback(QUESTIONNAIRE, "start", occasion))],
        [Button(tr._("Not now"), callback(LATER, outbox_id))],
    )


def webinar_reminder_screen(
    tr: Tr, module_no: int, starts_at: datetime, tz: ZoneInfo, *, soon: bool,
    join_url: str | None,
) -> Screen:
    if soon:
        text = tr._("The webinar for module {number} starts soon, at {time}.",
                    number=module_no, time=tr.time(starts_at, tz))
    else:
        text = tr._("Reminder: the webinar for module {number} is on {when}.",
                    number=module_no, when=tr.when(starts_at, tz))
    return Screen.of(text, _join(tr, join_url))


def webinar_moved_screen(
    tr: Tr, module_no: int, starts_at: datetime, moved_from: datetime | None, tz: ZoneInfo,
    *, join_url: str | None,
) -> Screen:
    text = tr._("<b>New time</b>\nThe webinar for module {number} has moved to {when}.",
                number=module_no, when=tr.when(starts_at, tz))
    if moved_from is not None:
        text += "\n" + tr._("It was planned for {when}.", when=tr.when(moved_from, tz))
    return Screen.of(text, _join(tr, join_url))


def webinar_cancelled_screen(tr: Tr, module_no: int, starts_at: datetime, tz: ZoneInfo) -> Screen:
    return Screen.of(tr._(
        "<b>Cancelled</b>\nThe webinar for module {number} on {when} is cancelled. "
        "Your instructor will tell you what happens next.",
        number=module_no, when=tr.when(starts_at, tz),
    ))


def prep_nudge_screen(
    tr: Tr, module_no: int, starts_at: datetime, tz: ZoneInfo, outbox_id: int
) -> Screen:
    text = tr._(
        "The webinar for module {number} is on {when}. If you have time, look at the module "
        "before. It is fine if you don't.",
        number=module_no, when=tr.when(starts_at, tz),
    )
    return Screen.of(
        text,
        [Button(tr._("Open module {number}", number=module_no), callback(STEP, module_no, 0))],
        [Button(tr._("Not now"), callback(LATER, outbox_id))],
    )


def checkin_prompt_screen(
    tr: Tr, module_no: int, occasion: Occasion, outbox_id: int, *, reminder: bool = False
) -> Screen:
    if reminder:
        text = tr._("The check-in for module {number} is still open. It takes about "
                    "two minutes.", number=module_no)
    else:
        text = tr._("How did this week go? The check-in for module {number} takes about "
                    "two minutes.", number=module_no)
    return Screen.of(text, *_start_or_later(tr, occasion, outbox_id))


_EVALUATION_TEXTS = {
    Occasion.BASELINE: N_(
        "Before the course starts, we ask some questions about how you are. It takes about "
        "ten minutes. Your answers help make the course better."
    ),
    Occasion.POST: N_(
        "The course is over. Please answer the same questions once more. It takes about "
        "ten minutes."
    ),
    Occasion.FOLLOWUP: N_(
        "It is three months since the course ended. How are you? Please answer the "
        "questions one last time. It takes about ten minutes."
    ),
}


def evaluation_prompt_screen(tr: Tr, occasion: Occasion, outbox_id: int) -> Screen:
    text = _EVALUATION_TEXTS.get(occasion, _EVALUATION_TEXTS[Occasion.POST])
    return Screen.of(tr._(text), *_start_or_later(tr, occasion, outbox_id))


def asked_later_screen(tr: Tr, when: datetime, tz: ZoneInfo) -> Screen:
    return Screen.of(tr._("All right. I will ask again on {when}.", when=tr.when(when, tz)))


def later_gone_text(tr: Tr) -> str:
    return tr._("This is no longer needed. Thank you.")
