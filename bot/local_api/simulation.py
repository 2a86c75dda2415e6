"""What simulated people do: each action becomes a Telegram Update in the bot's queue."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.local_api.errors import SimulationError
from bot.local_api.html import utf16_len
from bot.local_api.state import (
    CallbackQueryRecord,
    InlineQueryRecord,
    SimChat,
    SimMessage,
    SimUser,
    State,
)

MessagePredicate = Callable[[SimMessage], bool]


class Simulation:
    def __init__(self, state: State) -> None:
        self.state = state

    # -- people and chats --------------------------------------------------------------------
    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> SimUser:
        if user_id <= 0:
            raise SimulationError("user ids are positive")
        user = SimUser(user_id, first_name, last_name, username, language_code)
        self.state.users[user_id] = user
        self.state.private_chat(user)
        return user

    def add_group(self, chat_id: int, title: str, *, supergroup: bool = False) -> SimChat:
        if chat_id >= 0:
            raise SimulationError("group chat ids are negative")
        chat = SimChat(chat_id, "supergroup" if supergroup else "group", title=title)
        self.state.chats[chat_id] = chat
        return chat

    def add_channel(self, chat_id: int, title: str, *, username: str | None = None) -> SimChat:
        if chat_id >= 0:
            raise SimulationError("channel ids are negative")
        chat = SimChat(chat_id, "channel", title=title, username=username)
        self.state.chats[chat_id] = chat
        return chat

    def user(self, user_id: int) -> SimUser:
        user = self.state.users.get(user_id)
        if user is None:
            raise SimulationError(f"no simulated user {user_id}; call add_user first")
        return user

    def block(self, user_id: int, *, tell_bot: bool = True) -> int | None:
        """The user blocks the bot. As Telegram does, the bot gets a ``my_chat_member`` update
        for the private chat (member → kicked); its update_id is returned. ``tell_bot=False``
        is a bot that missed it (it was down longer than Telegram keeps updates): it learns
        from the 403 of its next message."""
        user = self.user(user_id)
        was_blocked, user.blocked = user.blocked, True
        if was_blocked or not tell_bot or not user.started:
            return None
        return self._my_chat_member(user, self.state.private_chat(user), "member", "kicked")

    def unblock(self, user_id: int, *, tell_bot: bool = True) -> int | None:
        """The user unblocks the bot (kicked → member in a ``my_chat_member`` update)."""
        user = self.user(user_id)
        was_blocked, user.blocked = user.blocked, False
        if not was_blocked or not tell_bot or not user.started:
            return None
        return self._my_chat_member(user, self.state.private_chat(user), "kicked", "member")

    def add_bot_to_group(self, user_id: int, chat_id: int) -> tuple[int, int]:
        """A member adds the bot to a group. Telegram then sends two updates: ``my_chat_member``
        (left → member) and the service message listing the bot in ``new_chat_members``.
        Returns both update_ids."""
        user = self.user(user_id)
        chat = self.state.chats.get(chat_id)
        if chat is None or chat.type not in ("group", "supergroup"):
            raise SimulationError(f"no simulated group {chat_id}; call add_group first")
        chat.bot_is_member = True
        member = self._my_chat_member(user, chat, "left", "member")
        message = self.state.new_message(chat, from_bot=False, sender_id=user.user_id)
        self.state.last_user_action_seq[chat.chat_id] = message.seq
        payload = self.state.message_json(message)
        payload["new_chat_members"] = [self.state.bot.to_telegram()]
        return member, self.state.enqueue("message", payload)

    def _my_chat_member(self, user: SimUser, chat: SimChat, old: str, new: str) -> int:
        bot = self.state.bot.to_telegram()

        def member(status: str) -> dict[str, Any]:
            return {"status": status, "user": bot} | ({"until_date": 0}
                                                      if status == "kicked" else {})

        return self.state.enqueue("my_chat_member", {
            "chat": chat.to_telegram(), "from": user.to_telegram(),
            "date": self.state.now_date(),
            "old_chat_member": member(old), "new_chat_member": member(new),
        })

    def deactivate(self, user_id: int) -> None:
        self.user(user_id).deactivated = True

    # -- user actions ------------------------------------------------------------------------
    def _chat_for(self, user: SimUser, chat_id: int | None) -> SimChat:
        if user.deactivated:
            raise SimulationError(f"user {user.user_id} is deactivated")
        if chat_id is None or chat_id == user.user_id:
            # Writing to the bot starts it (and, as in Telegram, unblocks it).
            user.started = True
            self.unblock(user.user_id)
            return self.state.private_chat(user)
        chat = self.state.chats.get(chat_id)
        if chat is None or chat.type == "private":
            raise SimulationError(f"no simulated group {chat_id}; call add_group first")
        return chat

    def _user_message(self, user_id: int, chat_id: int | None) -> tuple[SimChat, SimMessage]:
        user = self.user(user_id)
        chat = self._chat_for(user, chat_id)
        message = self.state.new_message(chat, from_bot=False, sender_id=user.user_id)
        self.state.last_user_action_seq[chat.chat_id] = message.seq
        return chat, message

    def send_text(self, user_id: int, text: str, *, chat_id: int | None = None) -> int:
        if not text:
            raise SimulationError("Telegram clients do not send empty messages")
        _, message = self._user_message(user_id, chat_id)
        message.text = text
        message.entities = command_entities(text)
        return self.state.enqueue("message", self.state.message_json(message))

    def send_sticker(self, user_id: int, *, chat_id: int | None = None) -> int:
        return self._send_media(user_id, "sticker", b"RIFF-sticker", chat_id=chat_id)

    def send_photo(
        self,
        user_id: int,
        data: bytes = b"\x89PNG\r\n\x1a\n",
        *,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> int:
        return self._send_media(user_id, "photo", data, caption=caption, chat_id=chat_id)

    def send_voice(
        self, user_id: int, data: bytes = b"OggS-voice", *, chat_id: int | None = None
    ) -> int:
        return self._send_media(user_id, "voice", data, chat_id=chat_id)

    def _send_media(
        self,
        user_id: int,
        kind: str,
        data: bytes,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> int:
        _, message = self._user_message(user_id, chat_id)
        message.media_kind = kind
        message.file = self.state.files.add(kind, data)
        message.caption = caption
        return self.state.enqueue("message", self.state.message_json(message))

    def edit_text(self, user_id: int, message_id: int, new_text: str) -> int:
        user = self.user(user_id)
        message = next((m for m in self.state.messages.values()
                        if m.message_id == message_id and m.sender_id == user.user_id
                        and not m.from_bot and not m.deleted), None)
        if message is None or message.text is None:
            raise SimulationError(f"user {user_id} has no text message {message_id} to edit")
        message.text = new_text
        message.entities = command_entities(new_text)
        message.edited = True
        message.edit_date = self.state.now_date()
        self.state.last_user_action_seq[message.chat_id] = self.state.next_seq()
        return self.state.enqueue("edited_message", self.state.message_json(message))

    def press_button(self, user_id: int, message_id: int, callback_data: str) -> int:
        user = self.user(user_id)
        chat = self._chat_for(user, None)
        return self._press(user, chat, message_id, callback_data)

    def press_forged(self, user_id: int, message_id: int, callback_data: str) -> int:
        """A modified client pressing a bot message with callback data of its own choosing.

        Telegram does not check that the data belongs to a button (MTProto clients send the
        bytes), so a bot must treat callback data as a request, never as proof.
        """
        user = self.user(user_id)
        return self._press(user, self._chat_for(user, None), message_id, callback_data,
                           forged=True)

    def press_button_in(
        self, user_id: int, chat_id: int, message_id: int, callback_data: str
    ) -> int:
        """press_button for a message in a group chat."""
        user = self.user(user_id)
        return self._press(user, self._chat_for(user, chat_id), message_id, callback_data)

    def press_button_by_text(
        self, user_id: int, text: str, *, message_id: int | None = None,
        chat_id: int | None = None,
    ) -> int:
        user = self.user(user_id)
        chat = self._chat_for(user, chat_id)
        candidates = [m for m in reversed(self.state.chat_messages(chat.chat_id))
                      if m.from_bot and (message_id is None or m.message_id == message_id)]
        for message in candidates:
            for button in message.buttons():
                if button.get("text") == text and "callback_data" in button:
                    return self._press(user, chat, message.message_id, str(button["callback_data"]))
        available = {m.message_id: m.button_texts() for m in candidates if m.buttons()}
        raise SimulationError(
            f"no inline button {text!r} in chat {chat.chat_id}"
            + (f" message {message_id}" if message_id is not None else "")
            + f"; available buttons by message_id: {available or 'none'}"
        )

    def _press(
        self, user: SimUser, chat: SimChat, message_id: int, data: str, *, forged: bool = False
    ) -> int:
        message = self.state.find_message(chat.chat_id, message_id)
        if message is None or not message.from_bot:
            raise SimulationError(f"no bot message {message_id} in chat {chat.chat_id}")
        datas = [b.get("callback_data") for b in message.buttons()]
        if not forged and data not in datas:
            raise SimulationError(
                f"message {message_id} has no button with callback_data {data!r}; "
                f"buttons: {[(b.get('text'), b.get('callback_data')) for b in message.buttons()]}"
            )
        self.state.query_counter += 1
        query_id = f"{self.state.bot.bot_id}{self.state.query_counter:012d}"
        self.state.callback_queries[query_id] = CallbackQueryRecord(
            query_id, user.user_id, chat.chat_id, message_id, data, self.state.clock()
        )
        self.state.last_user_action_seq[chat.chat_id] = self.state.next_seq()
        payload: dict[str, Any] = {
            "id": query_id,
            "from": user.to_telegram(),
            "message": self.state.message_json(message),
            "chat_instance": str((chat.chat_id * 7919 + self.state.bot.bot_id) & 0x7FFFFFFFFFFF),
            "data": data,
        }
        return self.state.enqueue("callback_query", payload)

    def send_channel_post(self, chat_id: int, text: str) -> int:
        chat = self.state.chats.get(chat_id)
        if chat is None or chat.type != "channel":
            raise SimulationError(f"no simulated channel {chat_id}; call add_channel first")
        message = self.state.new_message(chat, from_bot=False, sender_id=chat_id)
        message.text = text
        return self.state.enqueue("channel_post", self.state.message_json(message))

    def send_inline_query(self, user_id: int, query: str, *, offset: str = "") -> int:
        user = self.user(user_id)
        self.state.query_counter += 1
        query_id = f"{self.state.bot.bot_id}{self.state.query_counter:012d}"
        self.state.inline_queries[query_id] = InlineQueryRecord(query_id, user_id, query)
        payload = {"id": query_id, "from": user.to_telegram(), "query": query,
                   "offset": offset, "chat_type": "sender"}
        return self.state.enqueue("inline_query", payload)

    # -- observing ---------------------------------------------------------------------------
    def messages_to(self, chat_id: int, *, include_deleted: bool = False) -> list[SimMessage]:
        """The bot's messages in a chat, oldest first, in their current state."""
        return [m for m in self.state.chat_messages(chat_id, include_deleted=include_deleted)
                if m.from_bot]

    def last_message_to(self, chat_id: int) -> SimMessage | None:
        messages = self.messages_to(chat_id)
        return messages[-1] if messages else None

    def mark(self) -> int:
        """A point in time for ``wait_for_message(since=…)``."""
        return self.state.seq

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: MessagePredicate | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test-facing signature
        since: int | None = None,
        include_edits: bool = False,
    ) -> SimMessage:
        """Wait for a bot message to ``chat_id`` matching ``predicate``.

        By default only messages sent after the last simulated user action in that chat count
        (so a reply that arrived before this call is not missed, and older ones don't match).
        With ``include_edits`` a message edited after that point counts too.
        """
        if since is None:
            since = self.state.last_user_action_seq.get(chat_id, 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self.state.changed_event()
            for message in self.messages_to(chat_id):
                fresh = message.seq > since or (include_edits and message.version > since)
                if fresh and (predicate is None or predicate(message)):
                    return message
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [m.text or m.caption or m.media_kind for m in self.messages_to(chat_id)]
                raise TimeoutError(
                    f"no matching bot message to chat {chat_id} within {timeout}s; "
                    f"bot messages in that chat: {seen}"
                )
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                continue

    def pending_updates(self) -> int:
        return len(self.state.updates)


def command_entities(text: str) -> list[dict[str, Any]]:
    """A bot_command entity for a leading '/command' (with optional @botname), as clients send."""
    if not text.startswith("/") or len(text) < 2:
        return []
    end = len(text)
    for i, ch in enumerate(text):
        if ch.isspace():
            end = i
            break
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(text[:end])}]
