"""Every person's time zone (an IANA name) and instants shown in it.

The browser tells the zone at registration (static/timezone.js fills a hidden field from `Intl`); the
account page changes it. A person without one sees Europe/Berlin: Tandem's programmes run in Germany,
so that is the likeliest zone of anyone who never said.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from babel import dates
from flask_babel import get_locale

from ..models import User, as_utc

FALLBACK = "Europe/Berlin"


@lru_cache(maxsize=1)
def names() -> tuple[str, ...]:
    """Every zone a person can choose, sorted (the `posix/` and `right/` aliases left out)."""
    return tuple(sorted(name for name in available_timezones()
                        if ("/" in name or name == "UTC") and not name.startswith(("posix", "right", "Etc/"))))


def is_valid(name: str | None) -> bool:
    return bool(name) and name in names()


def name_of(user: User | None) -> str:
    """The person's zone, or the fallback when they never set one."""
    zone = getattr(user, "time_zone", None)
    return zone if is_valid(zone) else FALLBACK


def zone_of(user: User | None) -> ZoneInfo:
    return ZoneInfo(name_of(user))


def local(moment: datetime, user: User | None) -> datetime:
    """A stored instant in the person's zone."""
    return as_utc(moment).astimezone(zone_of(user))


def to_utc(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(UTC)


def skipped(moment: datetime) -> bool:
    """Whether a wall-clock time in a zone (typed on a page) never happens: the clocks jumped over it (02:30 on
    the last Sunday of March in Europe/Berlin). Python would silently read it as an hour later or earlier."""
    if not isinstance(moment.tzinfo, ZoneInfo):
        return False
    return moment.astimezone(UTC).astimezone(moment.tzinfo).replace(tzinfo=None) != moment.replace(tzinfo=None)


def format_instant(moment: datetime, user: User | None, with_zone: bool = True) -> str:
    """Date and time (to the minute) in the person's zone and the current language, with the zone's name
    unless the page shows it once for all."""
    zone, locale = zone_of(user), str(get_locale() or "en")
    day = dates.format_date(as_utc(moment).astimezone(zone), "medium", locale=locale)
    clock = dates.format_time(as_utc(moment), "short", tzinfo=zone, locale=locale)
    pattern = dates.get_datetime_format("medium", locale=locale)
    text = pattern.replace("{1}", day).replace("{0}", clock)
    return f"{text} ({zone.key})" if with_zone else text
