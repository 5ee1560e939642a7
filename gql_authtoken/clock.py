"""The core's clock: the one seam tests move time with (``clock.now``)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    """The current time (aware, UTC when ``USE_TZ``), as every core rule reads it."""
    return timezone.now()
