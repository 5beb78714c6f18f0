"""Time-zone arithmetic shared by posting, recurring bots and planning."""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from datetime import timezone as dt_timezone


def local_instant(day: date, at: time, zone: tzinfo) -> datetime:
    """A local wall time as an instant (UTC). With ``fold=0`` Python reads a
    time inside a spring-forward gap with the offset from before the jump,
    which lands it that much later on the wall clock after the jump (02:30 →
    03:30), and reads a repeated autumn time as its first occurrence."""
    return datetime.combine(day, at.replace(fold=0), tzinfo=zone).astimezone(dt_timezone.utc)
