"""Emergency and support numbers by country, in one table outside the translations.

Kept out of the catalogs so that no translation can drop or mistype a number, and so a test
can check that every locale shows every number.
"""

from __future__ import annotations

from dataclasses import dataclass

from locales.i18n import N_


@dataclass(frozen=True)
class HelpLine:
    label: str  # a gettext message id
    number: str


EMERGENCY_NUMBERS: dict[str, tuple[HelpLine, ...]] = {
    "DK": (
        HelpLine(N_("Emergency (ambulance, police, fire)"), "112"),
        HelpLine(N_("Livslinien, if you have thoughts of suicide"), "70 201 201"),
    ),
    "NO": (
        HelpLine(N_("Emergency (ambulance)"), "113"),
        HelpLine(N_("Legevakt (out-of-hours doctor)"), "116 117"),
        HelpLine(N_("Mental Helse helpline"), "116 123"),
    ),
}

COUNTRY_NAMES: dict[str, str] = {"DK": N_("Denmark"), "NO": N_("Norway")}
