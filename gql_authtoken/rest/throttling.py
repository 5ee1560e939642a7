"""DRF throttle by API client, as in django-rest-durin."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import BaseThrottle

from .. import clients
from ..exceptions import Throttled
from ..middleware import check_client_rate
from .authentication import request_token


class UserClientRateThrottle(BaseThrottle):
    """Limit each user of a client to ``Client.throttle_rate`` (scope ``user_per_client``).

    A client without a rate, or a token of no client, gets
    ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["user_per_client"]`` as
    django-rest-durin does (not limited when that is unset); requests without
    a token are not limited (``AnonRateThrottle`` does that). The decision is
    the core's (``clients.client_rate``), shared with GraphQL: one request counts once.
    """

    scope = clients.CLIENT_RATE_SCOPE

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        token = request_token(request)
        if token is None:
            return True
        try:
            check_client_rate(request._request, token)
        except Throttled as error:
            self._wait = error.wait
            return False
        return True

    def wait(self) -> float | None:
        return self._wait
