"""One module per library: its throwaway project (both sides) and its documented client flow.

Imported by the settings module, so nothing here imports Django models at
module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..harness import PASSWORD

if TYPE_CHECKING:
    from ..harness import Flow


class Project:
    """A library's documented set-up (``legacy``) and the same app after the switch (``migrated``).

    The migrated side is what docs/migrating.md tells a user to do: the same
    paths (``path(<old prefix>, include("gql_authtoken.urls"))``, or our view
    at a path the project chose itself), ``gql_authtoken.rest.CachedTokenAuthentication``
    in place of the library's class, its settings moved into ``GQL_AUTHTOKEN``.
    """

    name: str
    source: str  # import_tokens --from
    legacy_apps: tuple[str, ...] = ()
    legacy_middleware: tuple[str, ...] = ()

    def legacy_settings(self) -> dict[str, Any]:
        return {}

    def migrated_settings(self) -> dict[str, Any]:
        return {}

    def legacy_urls(self) -> list[Any]:
        raise NotImplementedError

    def migrated_urls(self) -> list[Any]:
        raise NotImplementedError

    def setup(self) -> None:
        """The accounts (and clients) that exist before the switch."""
        from django.contrib.auth import get_user_model

        for name in ("alice", "bob"):
            get_user_model().objects.create_user(name, f"{name}@example.org", PASSWORD)

    def handover_login(self, flow: Flow) -> str:
        """A login through the real library: the token a client holds at the switch."""
        raise NotImplementedError

    def after_import(self) -> None:
        """What an administrator does after ``import_tokens`` (e.g. create the clients)."""

    def expire_legacy_token(self, token: str) -> None:
        raise NotImplementedError(f"{self.name} tokens do not expire")

    def flow(self, f: Flow) -> None:
        raise NotImplementedError


def whoami_urls(prefix: str = "api/whoami/") -> list[Any]:
    from django.urls import path

    from ..views import Whoami

    return [path(prefix, Whoami.as_view())]


def _projects() -> dict[str, Project]:
    from .drf import DrfAuthtoken
    from .drf_advanced_token import DrfAdvancedToken
    from .durin import Durin
    from .rest_authtoken import RestAuthtoken, RestAuthtokenConfirm

    projects = [DrfAuthtoken(), DrfAdvancedToken(), RestAuthtoken(), RestAuthtokenConfirm(), Durin()]
    return {project.name: project for project in projects}


PROJECTS = _projects()
