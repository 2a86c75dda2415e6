"""The simulated world: bot, users, chats, messages, updates and the record of API calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.local_api.errors import bad_request, forbidden
from bot.local_api.files import FileStore, StoredFile
from bot.local_api.markup import inline_buttons

ChatType = Literal["private", "group", "supergroup", "channel"]

# Telegram's default when allowed_updates was never given: everything except these.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass
class SimUser:
    user_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    started: bool = False  # has written to the bot, so the bot may write to them
    blocked: bool = False
    deactivated: bool = False

    def to_telegram(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                user[key] = getattr(self, key)
        return user


@dataclass
class SimChat:
    chat_id: int
    type: ChatType
    title: str | None = None
    user: SimUser | None = None  # the other party of a private chat
    username: str | None = None
    bot_is_member: bool = True
    next_message_id: int = 1

    def to_telegram(self) -> dict[str, Any]:
        if self.user is not None:
            chat = self.user.to_telegram()
            chat.pop("is_bot")
            chat.pop("language_code", None)
            chat["type"] = "private"
            return chat
        chat = {"id": self.chat_id, "type": self.type, "title": self.title or ""}
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class SimMessage:
    """A message as currently stored (edits update it in place; deletes only flag it)."""

    chat_id: int
    message_id: int
    date: int
    from_bot: bool
    sender_id: int
    text: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    parse_mode: str | None = None
    caption: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    media_kind: str | None = None  # photo | document | sticker | voice
    file: StoredFile | None = None
    edited: bool = False
    edit_date: int | None = None
    deleted: bool = False
    reply_to_message_id: int | None = None
    options: dict[str, Any] = field(default_factory=dict)  # protect_content, link_preview, …
    seq: int = 0  # global order of creation
    version: int = 0  # global order of the last change

    @property
    def photo_bytes(self) -> bytes | None:
        return self.file.data if self.file and self.media_kind == "photo" else None

    @property
    def document_bytes(self) -> bytes | None:
        return self.file.data if self.file and self.media_kind == "document" else None

    def buttons(self) -> list[dict[str, Any]]:
        return inline_buttons(self.reply_markup)

    def button_texts(self) -> list[str]:
        return [str(b.get("text")) for b in self.buttons()]

    def summary(self) -> dict[str, Any]:
        """JSON-friendly view for the control API and error messages."""
        return {
            "chat_id": self.chat_id, "message_id": self.message_id, "from_bot": self.from_bot,
            "text": self.text, "entities": self.entities, "parse_mode": self.parse_mode,
            "caption": self.caption, "reply_markup": self.reply_markup,
            "media_kind": self.media_kind,
            "file_id": self.file.file_id if self.file else None,
            "file_size": self.file.size if self.file else None,
            "edited": self.edited, "deleted": self.deleted, "options": self.options,
            "reply_to_message_id": self.reply_to_message_id,
        }


@dataclass
class ApiCall:
    method: str  # canonical (Telegram's) spelling when known
    params: dict[str, Any]
    ok: bool
    error_code: int | None = None
    description: str | None = None
    at: float = 0.0


@dataclass
class CallbackQueryRecord:
    query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created: float
    answered: bool = False
    answer: dict[str, Any] | None = None


@dataclass
class InlineQueryRecord:
    query_id: str
    user_id: int
    query: str
    answered: bool = False
    results: list[Any] | None = None


@dataclass
class WebhookInfo:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class Update:
    update_id: int
    kind: str
    payload: dict[str, Any]

    def to_telegram(self) -> dict[str, Any]:
        return {"update_id": self.update_id, self.kind: self.payload}


@dataclass
class BotInfo:
    bot_id: int
    first_name: str
    username: str

    def to_telegram(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name,
                "username": self.username}


class State:
    """Everything the server remembers; one instance per LocalBotApi (no globals)."""

    def __init__(
        self,
        bot: BotInfo,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot = bot
        self.clock = clock
        self.wall_clock = wall_clock
        self.users: dict[int, SimUser] = {}
        self.chats: dict[int, SimChat] = {}
        self.messages: dict[tuple[int, int], SimMessage] = {}
        self.updates: list[Update] = []
        self.next_update_id = 1
        self.allowed_updates: frozenset[str] | None = None  # None: Telegram's default set
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.inline_queries: dict[str, InlineQueryRecord] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.webhook = WebhookInfo()
        self.calls: list[ApiCall] = []
        self.files = FileStore(bot.bot_id)
        self.seq = 0
        self.last_user_action_seq: dict[int, int] = {}
        self.query_counter = 0
        self._changed: asyncio.Event | None = None

    # -- change notification (long polling and wait_for_message) ---------------------------
    def notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    def changed_event(self) -> asyncio.Event:
        """An event set at the next change; fetch it *before* checking the condition."""
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def now_date(self) -> int:
        return int(self.wall_clock())

    # -- chats -------------------------------------------------------------------------------
    def resolve_chat(self, chat_id: object) -> SimChat:
        """The chat the bot may write to, or Telegram's 400/403."""
        chat: SimChat | None = None
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            name = chat_id[1:].lower()
            chat = next((c for c in self.chats.values()
                         if c.username and c.username.lower() == name), None)
        else:
            try:
                chat = self.chats.get(int(str(chat_id)))
            except ValueError:
                chat = None
        if chat is None:
            raise bad_request("chat not found")
        if chat.user is not None:
            if chat.user.deactivated:
                raise forbidden("user is deactivated")
            if chat.user.blocked:
                raise forbidden("bot was blocked by the user")
            if not chat.user.started:
                raise bad_request("chat not found")
        elif not chat.bot_is_member:
            raise forbidden("bot is not a member of the group chat")
        return chat

    def private_chat(self, user: SimUser) -> SimChat:
        chat = self.chats.get(user.user_id)
        if chat is None:
            chat = SimChat(user.user_id, "private", user=user)
            self.chats[user.user_id] = chat
        return chat

    # -- messages ----------------------------------------------------------------------------
    def new_message(self, chat: SimChat, *, from_bot: bool, sender_id: int) -> SimMessage:
        message = SimMessage(chat.chat_id, chat.next_message_id, self.now_date(), from_bot,
                             sender_id)
        chat.next_message_id += 1
        message.seq = message.version = self.next_seq()
        self.messages[(chat.chat_id, message.message_id)] = message
        return message

    def touch(self, message: SimMessage) -> None:
        message.version = self.next_seq()
        self.notify()

    def find_message(self, chat_id: int, message_id: int) -> SimMessage | None:
        message = self.messages.get((chat_id, message_id))
        return None if message is None or message.deleted else message

    def chat_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[SimMessage]:
        found = [m for (cid, _), m in self.messages.items() if cid == chat_id]
        found.sort(key=lambda m: m.message_id)
        return [m for m in found if include_deleted or not m.deleted]

    def message_json(self, message: SimMessage, *, with_reply: bool = True) -> dict[str, Any]:
        chat = self.chats[message.chat_id]
        out: dict[str, Any] = {"message_id": message.message_id, "date": message.date,
                               "chat": chat.to_telegram()}
        if message.from_bot:
            out["from"] = self.bot.to_telegram()
        elif chat.type == "channel":
            out["sender_chat"] = chat.to_telegram()
        else:
            out["from"] = self.users[message.sender_id].to_telegram()
        if message.text is not None:
            out["text"] = message.text
            if message.entities:
                out["entities"] = message.entities
        if message.file is not None and message.media_kind is not None:
            out.update(_media_json(message.media_kind, message.file))
        if message.caption:
            out["caption"] = message.caption
            if message.caption_entities:
                out["caption_entities"] = message.caption_entities
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            # Only inline keyboards are part of the message Telegram returns.
            out["reply_markup"] = message.reply_markup
        if message.edit_date is not None:
            out["edit_date"] = message.edit_date
        if message.options.get("protect_content"):
            out["has_protected_content"] = True
        if message.options.get("link_preview_options"):
            out["link_preview_options"] = message.options["link_preview_options"]
        if with_reply and message.reply_to_message_id is not None:
            replied = self.messages.get((message.chat_id, message.reply_to_message_id))
            if replied is not None and not replied.deleted:
                out["reply_to_message"] = self.message_json(replied, with_reply=False)
        return out

    # -- updates -----------------------------------------------------------------------------
    def enqueue(self, kind: str, payload: dict[str, Any]) -> int:
        """Store an update; Telegram drops updates of types the bot did not ask for."""
        update_id = self.next_update_id
        self.next_update_id += 1
        if self.wants(kind):
            self.updates.append(Update(update_id, kind, payload))
        self.notify()
        return update_id

    def wants(self, kind: str) -> bool:
        if self.allowed_updates is None:
            return kind not in DEFAULT_EXCLUDED_UPDATES
        return kind in self.allowed_updates

    def confirm(self, offset: int) -> None:
        if offset < 0:
            # A negative offset keeps only the last -offset updates.
            self.updates = self.updates[offset:]
        else:
            self.updates = [u for u in self.updates if u.update_id >= offset]

    def record(self, call: ApiCall) -> None:
        self.calls.append(call)
        self.notify()


def _media_json(kind: str, stored: StoredFile) -> dict[str, Any]:
    if kind == "photo":
        return {"photo": stored.photo_sizes()}
    if kind == "document":
        return {"document": stored.document()}
    if kind == "voice":
        return {"voice": {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                          "duration": 1, "file_size": stored.size,
                          "mime_type": "audio/ogg"}}
    if kind == "sticker":
        return {"sticker": {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                            "type": "regular", "width": 512, "height": 512,
                            "is_animated": False, "is_video": False, "emoji": "🙂",
                            "file_size": stored.size}}
    return {}
