"""The typed context every handler receives: services and the acting person.

Dependencies travel on a typed ``CallbackContext`` subclass rather than under string keys, so a
handler's needs are visible and checked.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot

from bot import turn
from bot.drawing import Drawing
from bot.settings import Settings
from dialogs.course import Participation
from dialogs.delivery.config import DeliveryConfig
from dialogs.questionnaires import Questionnaire, load_questionnaires
from locales.i18n import Catalogs, Tr, negotiate_locale
from storage.clock import Clock


@dataclass(frozen=True)
class Services:
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    catalogs: Catalogs
    clock: Clock
    # The delivery knobs every planning event uses, so an event plans as the safety net does.
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    # Validated once at start; a broken data file stops the start, not a conversation.
    questionnaires: Mapping[str, Questionnaire] = field(default_factory=load_questionnaires)

    @property
    def throttle_secret(self) -> bytes:
        """Key for hashing who guessed wrong codes and for /delete confirmations: derived from
        the deployment's secret key (never from the bot token alone), never stored."""
        return hmac.new(self.settings.key, b"mestring-throttle", hashlib.sha256).digest()


class BotData:
    """Application-wide data; set once by the application factory."""

    services: Services
    # The commands the handlers take (bot/handlers/robustness.py answers the others).
    known_commands: frozenset[str]
    # Where pictures and PDFs are drawn: a child process (bot/drawing.py).
    drawing: Drawing


@dataclass(frozen=True)
class Actor:
    """Who sent the update being handled, as loaded from storage at the start of the update."""

    telegram_user_id: int
    chat_id: int
    person_id: int | None
    display_name: str | None
    tr: Tr
    participant_team_ids: frozenset[int] = frozenset()
    instructor_team_ids: frozenset[int] = frozenset()
    coordinator_municipality_ids: frozenset[int] = frozenset()
    # Their active participant membership and team, for the course's screens and buttons.
    participation: Participation | None = None

    @property
    def locale(self) -> str:
        return self.tr.locale

    @property
    def is_known(self) -> bool:
        return self.person_id is not None


class BotContext(CallbackContext[ExtBot[None], dict, dict, BotData]):
    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.actor: Actor | None = None

    @property
    def services(self) -> Services:
        return self.bot_data.services

    @property
    def acting(self) -> Actor:
        """The actor, for handlers that run after the loader (every dialog handler does)."""
        if self.actor is None:
            raise RuntimeError("the actor loader did not run before this handler")
        return self.actor

    def reads(self) -> AbstractAsyncContextManager[AsyncSession]:
        """The update's read session, shared with the actor loader (see bot/turn.py): for
        handlers that read; a write starts with ``services.sessions.begin()``."""
        return turn.reading(self.services.sessions)

    def tr_for(self, language_code: str | None = None) -> Tr:
        """The actor's translator, or the best guess before the actor is loaded."""
        if self.actor is not None:
            return self.actor.tr
        settings = self.services.settings
        return self.services.catalogs.tr(
            negotiate_locale(
                chosen=None,
                telegram_language_code=language_code,
                team_language=None,
                default=settings.default_locale,
            )
        )
