"""What a person sees while answering a questionnaire: one screen per item, plus the rest.

Callback data names the response and the item by position, never the answer's meaning:
``v1:qa:<response>:<item>:<value>`` (answer), ``v1:qb:<response>:<item>`` (back),
``v1:qs:<response>:<item>`` (skip), ``v1:qo:<response>`` (open: start or continue).
The handler re-checks all of it against the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.callbacks import INT, TEXT, Action, Callback, CallbackDataError, callback
from dialogs.questionnaires import engine
from dialogs.questionnaires.engine import AnswerValue
from dialogs.questionnaires.model import (
    ChoiceItem,
    Item,
    Questionnaire,
    ScaleItem,
    TextItem,
    YesNoItem,
)
from dialogs.safety import COUNTRY_NAMES, EMERGENCY_NUMBERS
from dialogs.screen import Button, Screen, escape
from locales.i18n import N_, Tr, placeholders

ACTION_ANSWER = Action("qa", INT, INT, TEXT)  # qa:<response id>:<item index>:<value code>
ACTION_BACK = Action("qb", INT, INT)  # qb:<response id>:<item index>
ACTION_SKIP = Action("qs", INT, INT)  # qs:<response id>:<item index>
ACTION_OPEN = Action("qo", INT)  # qo:<response id>
ACTIONS = (ACTION_ANSWER, ACTION_BACK, ACTION_SKIP, ACTION_OPEN)
# A scale of up to 6 values fits one row; wider ones (0–10) are split in two.
_ONE_ROW = 6


@dataclass(frozen=True)
class Tap:
    """A decoded questionnaire button: what was pressed, on which response and item."""

    action: str
    response_id: int
    item_index: int | None = None
    value_code: str | None = None


def parse_tap(data: Callback) -> Tap:
    """Turn decoded callback data into a Tap; CallbackDataError if it is not a sound one."""
    action = next((a for a in ACTIONS if a == data.action), None)
    if action is None:
        raise CallbackDataError("not a questionnaire callback")
    return Tap(action, *action.read_args(data.args))


def value_code(value: float) -> str:
    return str(int(value))


def item_screen(
    tr: Tr,
    q: Questionnaire,
    item: Item,
    *,
    response_id: int,
    position: int,
    total: int,
    can_go_back: bool,
    current: AnswerValue | None = None,
) -> Screen:
    """One item as one message. `position` counts from 1; `current` marks an earlier answer
    when the person has gone back to this item."""
    index = q.index(item.key)
    parts = [
        f"<b>{escape(q.title.render(tr))}</b> · "
        + tr._("Question {n} of {total}", n=position, total=total),
        escape(item.text.render(tr)),
    ]
    rows: list[list[Button]] = []

    def answer(label: str, value: int) -> Button:
        mark = "✓ " if current is not None and current == value else ""
        return Button(mark + label, callback(ACTION_ANSWER, response_id, index, value))

    if isinstance(item, ScaleItem):
        parts.append(
            f"<i>{item.min} = {escape(item.min_label.render(tr))}\n"
            f"{item.max} = {escape(item.max_label.render(tr))}</i>"
        )
        buttons = [answer(str(v), v) for v in item.values]
        split = len(buttons) if len(buttons) <= _ONE_ROW else (len(buttons) + 1) // 2
        rows += [buttons[:split], buttons[split:]]
    elif isinstance(item, ChoiceItem):
        # One option a row: labels are whole phrases and must not be cut off.
        rows += [[answer(o.label.render(tr), o.value)] for o in item.options]
    elif isinstance(item, YesNoItem):
        rows.append([answer(tr._("Yes"), 1), answer(tr._("No"), 0)])
    elif isinstance(item, TextItem):
        parts.append(
            tr._("Write your answer as a message. Use at most {n} characters.", n=item.max_length)
        )
        if isinstance(current, str):
            parts.append(tr._("Your answer so far:") + f"\n<i>{escape(current)}</i>")
    nav: list[Button] = []
    if can_go_back:
        nav.append(Button(tr._("← Back"), callback(ACTION_BACK, response_id, index)))
    if engine.can_skip(item):
        nav.append(Button(tr._("Skip →"), callback(ACTION_SKIP, response_id, index)))
    rows.append(nav)
    return Screen.of("\n\n".join(parts), *rows)


def intro_screen(
    tr: Tr, q: Questionnaire, *, response_id: int | None = None, resuming: bool = False
) -> Screen:
    """The questionnaire's title and intro; with a response, a button to start (or continue)."""
    text = f"<b>{escape(q.title.render(tr))}</b>\n\n{escape(q.intro.render(tr))}"
    if response_id is None:
        return Screen.of(text)
    label = tr._("Continue") if resuming else tr._("Start")
    return Screen.of(text, [Button(label, callback(ACTION_OPEN, response_id))])


def finished_screen(tr: Tr, q: Questionnaire) -> Screen:
    return Screen.of(tr._("Thank you! Your answers are saved."))


def already_finished_screen(tr: Tr, q: Questionnaire | None = None) -> Screen:
    if q is None:
        return Screen.of(tr._("You have already answered these questions. Thank you!"))
    return Screen.of(
        tr._("You have already answered “{title}”. Thank you!", title=escape(q.title.render(tr)))
    )


def not_open_text(tr: Tr) -> str:
    return tr._("These questions are not open for you right now. I will send them when it is time.")


def stale_screen(tr: Tr) -> Screen:
    return Screen.of(
        tr._("This button is from an older message, so I cannot use it.")
        + " "
        + tr._("Your answers are safe. I will show you where you are now.")
    )


_HINTS = {
    engine.REASON_NOT_A_NUMBER: N_(
        "Please tap one of the buttons, or type a number from {min} to {max}."
    ),
    engine.REASON_OUT_OF_RANGE: N_("The number must be from {min} to {max}. Please try again."),
    engine.REASON_USE_BUTTONS: N_("Please answer with one of the buttons under the question."),
    engine.REASON_EMPTY: N_("I did not get an answer. Please write a few words."),
    engine.REASON_TOO_LONG: N_("That is a bit long. Please keep it under {n} characters."),
    engine.REASON_REQUIRED: N_("This question cannot be skipped. Please choose an answer."),
}


def invalid_answer_hint(tr: Tr, item: Item, reason: str) -> Screen:
    """A kind hint after an answer that could not be used; the item stays open."""
    params: dict[str, object] = {}
    if isinstance(item, ScaleItem):
        params = {"min": item.min, "max": item.max}
    elif isinstance(item, TextItem):
        params = {"n": item.max_length}
    message = _HINTS.get(reason, _HINTS[engine.REASON_USE_BUTTONS])
    if not placeholders(message) <= params.keys():
        message = _HINTS[engine.REASON_USE_BUTTONS]
    return Screen.of(tr._(message, **params))


def safety_screen(tr: Tr, country: str | None) -> Screen:
    """A caring message with the emergency numbers of the person's country (every country's
    when we do not know it) and a nudge to talk to their own doctor. No clinical advice."""
    countries = [country] if country in EMERGENCY_NUMBERS else list(EMERGENCY_NUMBERS)
    blocks = []
    for code in countries:
        rows = "\n".join(
            f"• {tr._(line.label)}: <b>{line.number}</b>" for line in EMERGENCY_NUMBERS[code]
        )
        heading = f"{tr._(COUNTRY_NAMES[code])}\n" if len(countries) > 1 else ""
        blocks.append(heading + rows)
    text = "\n\n".join(
        (
            tr._("Thank you for your honest answer. It sounds like things are hard right now."),
            tr._("You do not have to cope alone. If you need to talk to someone now, call:"),
            *blocks,
            tr._("It can also help to talk to your own doctor about how you feel."),
            tr._("You can go on with the questions when you are ready."),
        )
    )
    return Screen.of(text)
