"""The Django REST framework adapter."""

from .authentication import TokenAuthentication
from .permissions import AllowSpecificClients, DisallowSpecificClients

__all__ = ["AllowSpecificClients", "DisallowSpecificClients", "TokenAuthentication"]
