"""The Django REST framework adapter."""

from .authentication import CachedTokenAuthentication, TokenAuthentication, request_token
from .permissions import AllowSpecificClients, DisallowSpecificClients
from .throttling import UserClientRateThrottle

__all__ = [
    "AllowSpecificClients",
    "CachedTokenAuthentication",
    "DisallowSpecificClients",
    "TokenAuthentication",
    "UserClientRateThrottle",
    "request_token",
]
