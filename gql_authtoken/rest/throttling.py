"""DRF throttle by API client, as in django-rest-durin."""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import BaseThrottle

from ..exceptions import Throttled
from ..middleware import check_client_rate
from ..models import AuthToken


class UserClientRateThrottle(BaseThrottle):
    """Limit each user of a client to ``Client.throttle_rate`` (scope ``user_per_client``).

    Clients without a rate, and requests without a token, are not limited.
    The decision is the core's, shared with GraphQL: one request counts once.
    """

    scope = "user_per_client"

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, AuthToken):
            return True
        try:
            check_client_rate(request._request, token)
        except Throttled as error:
            self._wait = error.wait
            return False
        return True

    def wait(self) -> float | None:
        return self._wait
