"""DRF permissions by API client, as in django-rest-durin."""

from __future__ import annotations

from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from .. import clients
from ..exceptions import AuthTokenError
from .authentication import request_token


class _ClientPermission(BasePermission):
    """Reads its client names from the permission class, else from the view.

    django-rest-durin's documented use sets the names on a subclass of the
    permission (``class NoCLI(DisallowSpecificClients): disallowed_clients_name
    = ("cli",)``), and durin reads nothing else; so a name list on the
    permission wins. The view attribute of the same name is this package's
    shortcut for one view, used when the permission sets none.
    """

    message = _("This resource is not available for your client.")
    names_attribute: ClassVar[str]

    def client_names(self, view: Any) -> tuple[str, ...]:
        names = getattr(self, self.names_attribute, None)
        if names is None:
            names = getattr(view, self.names_attribute, None)
        return tuple(names or ())

    def client_rule(self, view: Any) -> dict[str, tuple[str, ...]]:
        raise NotImplementedError

    def has_permission(self, request: Any, view: Any) -> bool:
        try:
            clients.check_client(request_token(request), **self.client_rule(view))
        except AuthTokenError:
            return False
        return True


class AllowSpecificClients(_ClientPermission):
    """Only tokens of the clients in ``allowed_clients_name`` (none when it is unset)."""

    names_attribute = "allowed_clients_name"
    #: Set on a subclass, as in durin; when None, the view's ``allowed_clients_name``.
    allowed_clients_name: tuple[str, ...] | None = None

    def client_rule(self, view: Any) -> dict[str, tuple[str, ...]]:
        return {"allowed": self.client_names(view)}


class DisallowSpecificClients(_ClientPermission):
    """Any token except those of the clients in ``disallowed_clients_name``."""

    names_attribute = "disallowed_clients_name"
    #: Set on a subclass, as in durin; when None, the view's ``disallowed_clients_name``.
    disallowed_clients_name: tuple[str, ...] | None = None

    def client_rule(self, view: Any) -> dict[str, tuple[str, ...]]:
        return {"denied": self.client_names(view)}
