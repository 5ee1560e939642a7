"""DRF permissions by API client, as in django-rest-durin."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from .. import clients
from ..exceptions import AuthTokenError
from ..models import AuthToken


class _ClientPermission(BasePermission):
    message = _("This resource is not available for your client.")

    def client_rule(self, view: Any) -> dict[str, tuple[str, ...]]:
        raise NotImplementedError

    def has_permission(self, request: Any, view: Any) -> bool:
        token = request.auth if isinstance(request.auth, AuthToken) else None
        try:
            clients.check_client(token, **self.client_rule(view))
        except AuthTokenError:
            return False
        return True


class AllowSpecificClients(_ClientPermission):
    """Only tokens of the clients in the view's ``allowed_clients_name``."""

    def client_rule(self, view: Any) -> dict[str, tuple[str, ...]]:
        return {"allowed": tuple(getattr(view, "allowed_clients_name", ()))}


class DisallowSpecificClients(_ClientPermission):
    """Any token except those of the clients in the view's ``disallowed_clients_name``."""

    def client_rule(self, view: Any) -> dict[str, tuple[str, ...]]:
        return {"denied": tuple(getattr(view, "disallowed_clients_name", ()))}
