"""mestring's strict local Telegram Bot API server, with simulated users (demo, e2e, bench)."""

from __future__ import annotations

from bot.local_api.app import DEMO_BOT_USERNAME, DEMO_TOKEN, LocalBotApi
from bot.local_api.errors import ApiError, SimulationError
from bot.local_api.faults import SENDING_METHODS, Fault, FaultPlan
from bot.local_api.limits import Limits
from bot.local_api.state import ApiCall, CallbackQueryRecord, SimChat, SimMessage, SimUser

__all__ = [
    "DEMO_BOT_USERNAME",
    "DEMO_TOKEN",
    "SENDING_METHODS",
    "ApiCall",
    "ApiError",
    "CallbackQueryRecord",
    "Fault",
    "FaultPlan",
    "Limits",
    "LocalBotApi",
    "SimChat",
    "SimMessage",
    "SimUser",
    "SimulationError",
]
