"""Identifiers and hashes the schema relies on: study IDs, invite codes, throttle keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from storage.models.enums import Role

# No 0/O, 1/I/L, U: study IDs get read aloud and typed from paper by researchers.
STUDY_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
STUDY_ID_LENGTH = 6
_STUDY_ID_PREFIX = {Role.PARTICIPANT: "P", Role.INSTRUCTOR: "I"}


def new_study_id(role: Role = Role.PARTICIPANT) -> str:
    """A random pseudonym like "P-7K3QX9" (30^6 ≈ 7·10^8 values; uniqueness is the DB's job)."""
    body = "".join(secrets.choice(STUDY_ID_ALPHABET) for _ in range(STUDY_ID_LENGTH))
    return f"{_STUDY_ID_PREFIX[role]}-{body}"


def new_invite_code() -> str:
    """A fresh invite code: 128 random bits, URL-safe, fits Telegram's 64-char start payload."""
    return secrets.token_urlsafe(16)


def hash_invite_code(code: str) -> str:
    """sha256 hex of an invite code — what `Invite.code_hash` stores.

    Unkeyed is enough: codes carry 128 random bits, so the hash cannot be brute-forced back.
    """
    return hashlib.sha256(code.strip().encode()).hexdigest()


def attempt_key(telegram_user_id: int, secret: bytes) -> str:
    """Keyed hash of a Telegram user id for `InviteAttempt.key`.

    Keyed (HMAC) because user ids are small integers: a plain hash would be reversible by
    enumeration. `secret` is the deployment's secret (e.g. derived from the bot token).
    """
    return hmac.new(secret, str(telegram_user_id).encode(), hashlib.sha256).hexdigest()
