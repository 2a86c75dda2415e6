"""Errors the local Bot API answers with, and errors of the simulation side."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ApiError(Exception):
    """A Bot API error; the HTTP layer turns it into Telegram's error envelope."""

    error_code: int
    description: str
    retry_after: int | None = None

    def __str__(self) -> str:
        return f"{self.error_code}: {self.description}"

    def envelope(self) -> dict[str, object]:
        body: dict[str, object] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def forbidden(reason: str) -> ApiError:
    return ApiError(403, f"Forbidden: {reason}")


def too_many_requests(retry_after: int) -> ApiError:
    retry_after = max(1, int(retry_after))
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


class SimulationError(Exception):
    """A simulated user tried something a real user could not do (e.g. press a missing button)."""
