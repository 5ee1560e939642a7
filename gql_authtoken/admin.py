"""Admin: clients are editable; tokens and pending registrations are listed read-only and deleted."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import email_confirmation, models, tokens
from .accounts import passwords
from .conf import auth_settings
from .models import AuthToken, Client, PendingRegistration


@admin.action(description=_("Send an email confirmation link"))
def send_confirmation_emails(modeladmin: Any, request: Any, queryset: Any) -> None:
    """User admin action: mail a new confirmation link to each selected user.

    Each mail is sent on its own: when the mail server fails part-way, the
    users already mailed keep their links, the failed ones get none (their
    unsent links are removed), and the message says how many of each.
    """
    _mail_each(modeladmin, request, queryset, skip=lambda user: not email_confirmation.email_of(user),
               send=lambda user: email_confirmation.send_quietly(user, request=request),
               summary=_("Confirmation links sent: %(sent)d; failed: %(failed)d; without an email address: "
                         "%(skipped)d."))


def _mail_each(modeladmin: Any, request: Any, queryset: Any, *, skip: Any, send: Any, summary: Any) -> None:
    """Mail each selected user on their own (``send`` says whether it went out; ``skip``: not
    mailed at all) and tell the admin how many were sent, failed and skipped (``summary``)."""
    counts = {"sent": 0, "failed": 0, "skipped": 0}
    for user in queryset:
        outcome = "skipped" if skip(user) else "sent" if send(user) else "failed"
        counts[outcome] += 1
    modeladmin.message_user(request, summary % counts, messages.WARNING if counts["failed"] else messages.SUCCESS)


@admin.action(description=_("Send a password reset email"))
def send_password_reset_emails(modeladmin: Any, request: Any, queryset: Any) -> None:
    """User admin action: mail a password reset link to each selected active user with an address.

    Also to accounts without a usable password (an invitation to choose one),
    which ``sendPasswordResetEmail`` never mails. Each mail is sent on its own;
    the message says how many were sent, failed and skipped (inactive or no
    address). Nothing is sent while ``PASSWORD_RESET_URL`` is unset.
    """
    if not auth_settings.PASSWORD_RESET_URL:
        modeladmin.message_user(request, _("No reset links sent: PASSWORD_RESET_URL is not set."), messages.ERROR)
        return

    def send(user: Any) -> bool:
        try:
            passwords.send_reset_link(user, request=request)
        except Exception:
            passwords.logger.exception("Could not send the password reset email to user %s", user.pk)
            return False
        return True

    _mail_each(modeladmin, request, queryset, send=send,
               skip=lambda user: not getattr(user, "is_active", True) or not email_confirmation.email_of(user),
               summary=_("Reset links sent: %(sent)d; failed: %(failed)d; inactive or without an email address: "
                         "%(skipped)d."))


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "token_ttl", "throttle_rate"]
    search_fields = ["name"]


@admin.register(AuthToken)
class AuthTokenAdmin(admin.ModelAdmin):
    """Sessions by user and client. The digest is never shown: it is not a token."""

    list_display = ["user", "client", "created", "expiry", "last_used", "ip_address"]
    list_filter = ["client"]
    list_select_related = ["user", "client"]
    fields = ["user", "client", "created", "expiry", "last_used", "user_agent", "ip_address"]
    readonly_fields = fields  # type: ignore[assignment]  # only names: the stubs allow groups in `fields`
    actions = ["revoke_selected"]

    def get_search_fields(self, request: Any) -> list[str]:
        """By the user model's own name and email fields (a custom user may have no ``username``)."""
        user_model = get_user_model()
        names = {user_model.USERNAME_FIELD, user_model.get_email_field_name()}
        return [f"user__{name}" for name in models.model_fields(user_model, sorted(names))]

    def has_add_permission(self, request: Any) -> bool:
        return False  # tokens are issued by logging in, never minted for someone else

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return request.user.has_perm("gql_authtoken.view_authtoken") or request.user.has_perm(
            "gql_authtoken.delete_authtoken"
        )

    @admin.action(description=_("Revoke selected sessions"), permissions=["delete"])
    def revoke_selected(self, request: Any, queryset: Any) -> None:
        count = tokens.revoke_tokens(queryset)
        self.message_user(
            request,
            ngettext("Revoked %(count)d session.", "Revoked %(count)d sessions.", count) % {"count": count},
            messages.SUCCESS,
        )

    # Django's own delete view and "delete selected" action revoke through the core too.
    def delete_model(self, request: Any, obj: AuthToken) -> None:
        tokens.revoke_tokens(AuthToken.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        tokens.revoke_tokens(queryset)

    def response_delete(self, request: Any, obj_display: str, obj_id: Any) -> Any:
        """Back to the sessions list, where Django goes only with the change permission (no one
        has it here: tokens are read-only) and otherwise to the admin's index."""
        response = super().response_delete(request, obj_display, obj_id)
        if isinstance(response, HttpResponseRedirect) and self.has_view_permission(request):
            return HttpResponseRedirect(reverse("admin:gql_authtoken_authtoken_changelist",
                                                current_app=self.admin_site.name))
        return response


@admin.register(PendingRegistration)
class PendingRegistrationAdmin(admin.ModelAdmin):
    """Accounts waiting for their confirmation link. Deleting one refuses its
    links and resends for good; the account stays as it is."""

    list_display = ["user", "created"]
    list_select_related = ["user"]
    fields = ["user", "created"]
    readonly_fields = fields  # type: ignore[assignment]  # only names: the stubs allow groups in `fields`

    def has_add_permission(self, request: Any) -> bool:
        return False  # only ``register`` starts a registration

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: Any, obj: Any = None) -> bool:
        return request.user.has_perm("gql_authtoken.view_pendingregistration") or request.user.has_perm(
            "gql_authtoken.delete_pendingregistration"
        )
