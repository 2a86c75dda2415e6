"""The Bot API methods, implemented on the simulated State with Telegram's rules."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from bot.local_api.errors import ApiError, bad_request, too_many_requests
from bot.local_api.files import MAX_DOWNLOAD_BYTES, StoredFile
from bot.local_api.limits import RateLimiter
from bot.local_api.markup import validate_reply_markup
from bot.local_api.params import Upload
from bot.local_api.state import SimChat, SimMessage, State
from bot.local_api.text import FormattedText, format_text

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)
SCOPE_TYPES = frozenset(
    {
        "default", "all_private_chats", "all_group_chats", "all_chat_administrators", "chat",
        "chat_administrators", "chat_member",
    }
)
UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "message_reaction", "message_reaction_count",
        "inline_query", "chosen_inline_result", "callback_query", "shipping_query",
        "pre_checkout_query", "purchased_paid_media", "poll", "poll_answer",
        "my_chat_member", "chat_member", "chat_join_request", "chat_boost",
        "removed_chat_boost",
    }
)
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


class BotApiMethods:
    """Dispatch table of Bot API methods; results are Telegram JSON (dicts/lists/bools)."""

    def __init__(self, state: State, limiter: RateLimiter) -> None:
        self.state = state
        self.limiter = limiter
        self.closing = False
        self._poll_generation = 0
        self.waiting_polls = 0  # getUpdates calls currently parked in a long poll
        self.handlers: dict[str, Handler] = {
            "getMe": self.get_me,
            "logOut": self.ok,
            "close": self.ok,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "sendMessage": self.send_message,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "answerInlineQuery": self.answer_inline_query,
            "sendChatAction": self.send_chat_action,
            "leaveChat": self.leave_chat,
            "getChat": self.get_chat,
            "getFile": self.get_file,
        }

    def wake_pollers(self) -> None:
        self.closing = True
        self.state.notify()

    # -- bot ---------------------------------------------------------------------------------
    async def get_me(self, _: dict[str, Any]) -> Any:
        me = self.state.bot.to_telegram()
        me.update(can_join_groups=True, can_read_all_group_messages=False,
                  supports_inline_queries=False, can_connect_to_business=False,
                  has_main_web_app=False)
        return me

    async def ok(self, _: dict[str, Any]) -> Any:
        return True

    # -- updates -----------------------------------------------------------------------------
    async def get_updates(self, p: dict[str, Any]) -> Any:
        state = self.state
        if state.webhook.url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        if "offset" in p:
            state.confirm(p["offset"])
        if p.get("allowed_updates") is not None:
            state.allowed_updates = _allowed_updates(p["allowed_updates"])
        limit = min(100, max(1, p.get("limit", 100)))
        timeout = max(0.0, float(p.get("timeout", 0.0)))
        # A newer getUpdates call terminates an older waiting one, as on Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        parked = False
        try:
            while True:
                changed = state.changed_event()
                if generation != self._poll_generation:
                    raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                        "make sure that only one bot instance is "
                                        "running")
                if state.updates or self.closing:
                    return [u.to_telegram() for u in state.updates[:limit]]
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                if not parked:
                    # Announce the parked poll (tests await it), then re-check with a fresh
                    # event: notify() has just consumed the one fetched above.
                    parked = True
                    self.waiting_polls += 1
                    state.notify()
                    continue
                try:
                    await asyncio.wait_for(changed.wait(), remaining)
                except TimeoutError:
                    return []
        finally:
            if parked:
                self.waiting_polls -= 1

    async def set_webhook(self, p: dict[str, Any]) -> Any:
        url = p.get("url", "")
        if url and not url.startswith("https://") and not url.startswith("http://"):
            raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 "
                              "or 8443")
        secret = p.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = int(p.get("max_connections", 40))
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        webhook = self.state.webhook
        if webhook.url != url:
            webhook.last_error_date = webhook.last_error_message = None
        webhook.url, webhook.secret_token = url, secret
        webhook.max_connections = max_connections
        if p.get("allowed_updates") is not None:
            self.state.allowed_updates = _allowed_updates(p["allowed_updates"])
            webhook.allowed_updates = p["allowed_updates"]
        if p.get("drop_pending_updates"):
            self.state.updates.clear()
        self.state.notify()
        return True

    async def delete_webhook(self, p: dict[str, Any]) -> Any:
        self.state.webhook.url = ""
        self.state.webhook.secret_token = None
        self.state.webhook.last_error_date = self.state.webhook.last_error_message = None
        if p.get("drop_pending_updates"):
            self.state.updates.clear()
        self.state.notify()
        return True

    async def get_webhook_info(self, _: dict[str, Any]) -> Any:
        webhook = self.state.webhook
        info: dict[str, Any] = {"url": webhook.url, "has_custom_certificate": False,
                                "pending_update_count": len(self.state.updates)}
        if webhook.url:
            info["max_connections"] = webhook.max_connections
            if webhook.allowed_updates is not None:
                info["allowed_updates"] = webhook.allowed_updates
            if webhook.last_error_date is not None:
                info["last_error_date"] = webhook.last_error_date
                info["last_error_message"] = webhook.last_error_message
        return info

    # -- commands ----------------------------------------------------------------------------
    def _scope_key(self, p: dict[str, Any]) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
            raise bad_request("unsupported bot command scope type")
        kind = str(scope["type"])
        key = kind
        if kind in ("chat", "chat_administrators", "chat_member"):
            chat = self.state.resolve_chat(scope.get("chat_id"))
            key += f":{chat.chat_id}"
            if kind == "chat_member":
                key += f":{int(scope.get('user_id', 0))}"
        language = p.get("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return key, language

    async def set_my_commands(self, p: dict[str, Any]) -> Any:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise bad_request("parameter \"commands\" is required")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        cleaned: list[dict[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse BotCommand: BotCommand must be an Object")
            command, description = str(item.get("command", "")), str(item.get("description", ""))
            if not _COMMAND_RE.fullmatch(command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = self._scope_key(p)
        if cleaned:
            self.state.commands[key] = cleaned
        else:
            self.state.commands.pop(key, None)
        return True

    async def get_my_commands(self, p: dict[str, Any]) -> Any:
        return list(self.state.commands.get(self._scope_key(p), []))

    async def delete_my_commands(self, p: dict[str, Any]) -> Any:
        self.state.commands.pop(self._scope_key(p), None)
        return True

    # -- sending -----------------------------------------------------------------------------
    def _target_chat(self, p: dict[str, Any]) -> SimChat:
        if "chat_id" not in p:
            raise bad_request("chat_id is empty")
        return self.state.resolve_chat(p["chat_id"])

    def _flood_check(self, chat: SimChat) -> None:
        retry_after = self.limiter.check(chat.chat_id, is_group=chat.type != "private")
        if retry_after is not None:
            raise too_many_requests(retry_after)

    def _reply_to(self, chat: SimChat, p: dict[str, Any]) -> int | None:
        reply = p.get("reply_parameters")
        message_id: int | None = None
        allow_missing = bool(p.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
        elif reply is not None:
            raise bad_request("can't parse reply parameters JSON object")
        elif "reply_to_message_id" in p:
            message_id = p["reply_to_message_id"]
        if message_id is None:
            return None
        if self.state.find_message(chat.chat_id, int(message_id)) is None:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return int(message_id)

    def _store(
        self,
        chat: SimChat,
        p: dict[str, Any],
        *,
        text: FormattedText | None = None,
        caption: FormattedText | None = None,
        media: tuple[str, StoredFile] | None = None,
        markup: dict[str, Any] | None,
        reply_to: int | None,
    ) -> dict[str, Any]:
        message = self.state.new_message(chat, from_bot=True, sender_id=self.state.bot.bot_id)
        if text is not None:
            message.text, message.entities = text.text, text.entities
            message.parse_mode = text.parse_mode
        if caption is not None:
            message.caption, message.caption_entities = caption.text, caption.entities
            message.parse_mode = caption.parse_mode
        if media is not None:
            message.media_kind, message.file = media
        message.reply_markup = markup
        message.reply_to_message_id = reply_to
        for key in ("disable_notification", "protect_content", "link_preview_options",
                    "disable_web_page_preview", "message_thread_id"):
            if p.get(key) not in (None, False):
                message.options[key] = p[key]
        self.state.notify()
        return self.state.message_json(message)

    async def send_message(self, p: dict[str, Any]) -> Any:
        if "chat_id" not in p:
            raise bad_request("chat_id is empty")
        text = format_text(p.get("text"), p.get("parse_mode"), p.get("entities"))
        markup = validate_reply_markup(p.get("reply_markup"))
        chat = self._target_chat(p)
        reply_to = self._reply_to(chat, p)
        self._flood_check(chat)
        return self._store(chat, p, text=text, markup=markup, reply_to=reply_to)

    async def send_photo(self, p: dict[str, Any]) -> Any:
        return await self._send_media("photo", p)

    async def send_document(self, p: dict[str, Any]) -> Any:
        return await self._send_media("document", p)

    async def _send_media(self, kind: str, p: dict[str, Any]) -> Any:
        if "chat_id" not in p:
            raise bad_request("chat_id is empty")
        caption = format_text(p.get("caption"), p.get("parse_mode"), p.get("caption_entities"),
                              caption=True)
        markup = validate_reply_markup(p.get("reply_markup"))
        source = p.get(kind)
        if source is None or source == "":
            raise bad_request(f"there is no {kind} in the request")
        chat = self._target_chat(p)
        reply_to = self._reply_to(chat, p)
        stored = self._resolve_file(kind, source)
        self._flood_check(chat)
        return self._store(chat, p, caption=caption, media=(kind, stored), markup=markup,
                           reply_to=reply_to)

    def _resolve_file(self, kind: str, source: Upload | str) -> StoredFile:
        if isinstance(source, Upload):
            return self.state.files.add(kind, source.data, file_name=source.filename,
                                        mime_type=source.content_type)
        if source.startswith(("http://", "https://")):
            # There is no internet to fetch from; Telegram's answer for an unreachable URL.
            raise bad_request("failed to get HTTP URL content")
        stored = self.state.files.get(source)
        if stored.kind != kind and not (kind == "document" and stored.kind != "photo"):
            raise bad_request(
                f"can't use file of type {stored.kind.capitalize()} as {kind.capitalize()}"
            )
        return stored

    # -- editing -----------------------------------------------------------------------------
    def _edit_target(self, p: dict[str, Any]) -> SimMessage:
        if p.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # inline messages are not simulated
        chat = self._target_chat(p)
        if "message_id" not in p:
            raise bad_request("message identifier is not specified")
        message = self.state.find_message(chat.chat_id, p["message_id"])
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return message

    def _flood_check_edit(self, message: SimMessage) -> None:
        """Edits count against flood control; a refused edit must leave the message as it was."""
        self._flood_check(self.state.chats[message.chat_id])

    def _apply_edit(self, message: SimMessage) -> dict[str, Any]:
        message.edited = True
        message.edit_date = self.state.now_date()
        self.state.touch(message)
        return self.state.message_json(message)

    async def edit_message_text(self, p: dict[str, Any]) -> Any:
        text = format_text(p.get("text"), p.get("parse_mode"), p.get("entities"))
        # Omitting reply_markup in an edit removes the inline keyboard, as on Telegram.
        markup = validate_reply_markup(p.get("reply_markup"))
        _inline_only(markup)
        message = self._edit_target(p)
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        if (message.text, message.entities, message.reply_markup) == (
            text.text, text.entities, markup
        ):
            raise bad_request(NOT_MODIFIED)
        self._flood_check_edit(message)
        result_preview = p.get("link_preview_options")
        message.text, message.entities, message.parse_mode = text.text, text.entities, (
            text.parse_mode
        )
        message.reply_markup = markup
        if result_preview is not None:
            message.options["link_preview_options"] = result_preview
        return self._apply_edit(message)

    async def edit_message_caption(self, p: dict[str, Any]) -> Any:
        caption = format_text(p.get("caption"), p.get("parse_mode"), p.get("caption_entities"),
                              caption=True)
        markup = validate_reply_markup(p.get("reply_markup"))
        _inline_only(markup)
        message = self._edit_target(p)
        if message.media_kind not in ("photo", "document"):
            raise bad_request("there is no caption in the message to edit")
        if (message.caption or "", message.caption_entities, message.reply_markup) == (
            caption.text, caption.entities, markup
        ):
            raise bad_request(NOT_MODIFIED)
        self._flood_check_edit(message)
        message.caption, message.caption_entities = caption.text, caption.entities
        message.reply_markup = markup
        return self._apply_edit(message)

    async def edit_message_reply_markup(self, p: dict[str, Any]) -> Any:
        markup = validate_reply_markup(p.get("reply_markup"))
        _inline_only(markup)
        message = self._edit_target(p)
        if message.reply_markup == markup:
            raise bad_request(NOT_MODIFIED)
        self._flood_check_edit(message)
        message.reply_markup = markup
        return self._apply_edit(message)

    async def delete_message(self, p: dict[str, Any]) -> Any:
        chat = self.state.chats.get(_int_or_none(p.get("chat_id")) or 0)
        if chat is None:
            raise bad_request("chat not found")
        if "message_id" not in p:
            raise bad_request("message identifier is not specified")
        message = self.state.find_message(chat.chat_id, p["message_id"])
        if message is None:
            raise bad_request("message to delete not found")
        if chat.type != "private" and not message.from_bot:
            raise bad_request("message can't be deleted")
        message.deleted = True
        self.state.touch(message)
        return True

    # -- queries -----------------------------------------------------------------------------
    async def answer_callback_query(self, p: dict[str, Any]) -> Any:
        query = self.state.callback_queries.get(p.get("callback_query_id", ""))
        text = p.get("text") or ""
        if len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        too_old = query is None or query.answered or (
            self.state.clock() - query.created > self.limiter.limits.callback_query_ttl
        )
        if too_old or query is None:
            raise bad_request(QUERY_TOO_OLD)
        query.answered = True
        query.answer = {"text": text or None, "show_alert": bool(p.get("show_alert")),
                        "url": p.get("url"), "cache_time": p.get("cache_time")}
        self.state.notify()
        return True

    async def answer_inline_query(self, p: dict[str, Any]) -> Any:
        query = self.state.inline_queries.get(p.get("inline_query_id", ""))
        if query is None or query.answered:
            raise bad_request(QUERY_TOO_OLD)
        results = p.get("results")
        if not isinstance(results, list) or len(results) > 50:
            raise bad_request("RESULTS_TOO_MUCH" if isinstance(results, list) else
                              "can't parse results JSON object")
        query.answered, query.results = True, results
        return True

    # -- chats -------------------------------------------------------------------------------
    async def send_chat_action(self, p: dict[str, Any]) -> Any:
        chat = self._target_chat(p)
        del chat
        if p.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def leave_chat(self, p: dict[str, Any]) -> Any:
        chat = self._target_chat(p)
        if chat.type == "private":
            raise bad_request("chat member status can't be changed in private chats")
        chat.bot_is_member = False
        return True

    async def get_chat(self, p: dict[str, Any]) -> Any:
        chat = self.state.chats.get(_int_or_none(p.get("chat_id")) or 0)
        if chat is None or (chat.user is not None and not chat.user.started):
            raise bad_request("chat not found")
        info = chat.to_telegram()
        info.update(accent_color_id=0, max_reaction_count=11)
        return info

    async def get_file(self, p: dict[str, Any]) -> Any:
        try:
            stored = self.state.files.get(p.get("file_id", ""))
        except ApiError:
            raise bad_request("invalid file_id") from None
        if stored.size > MAX_DOWNLOAD_BYTES:
            raise bad_request("file is too big")
        return stored.telegram_file()


def _inline_only(markup: dict[str, Any] | None) -> None:
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def _allowed_updates(value: object) -> frozenset[str] | None:
    if not isinstance(value, list):
        raise bad_request("can't parse allowed_updates JSON object")
    if not value:
        return None  # an empty list means Telegram's default set
    return frozenset(str(v) for v in value if str(v) in UPDATE_TYPES)
