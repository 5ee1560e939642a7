"""Field errors of account forms, checked as Django's own forms check them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .. import identities
from ..conf import auth_settings
from ..exceptions import FieldError, field_errors


def registration_errors(model: Any, username: str, password: str, email: str) -> list[FieldError]:
    """Every field error of a registration, checked as Django's own forms check them."""
    errors: list[FieldError] = []
    required = _("This field is required.")
    username_field = model._meta.get_field(model.USERNAME_FIELD)
    checked: dict[str, str] = {}  # the values that passed, for the uniqueness checks
    if not username:
        errors.append(FieldError("username", required, "required"))
    else:
        try:
            username_field.clean(username, None)
            identities.validate_identity(username, email=identities.email_is_username(model))
        except ValidationError as error:
            errors += field_errors(error, "username")
        else:
            checked["username"] = username
    email_field = model.get_email_field_name()
    if email_field != model.USERNAME_FIELD:  # else checked above, as the username
        problems = email_errors(model, email_field, email)
        errors += problems
        if email and not problems:
            checked["email"] = email
    errors += uniqueness_errors(model, **checked)
    errors += password_errors(model(**{model.USERNAME_FIELD: username, email_field: email}), password, "password")
    return errors


def password_errors(user: Any, password: str, field: str) -> list[FieldError]:
    """The errors of ``password`` as ``user``'s new password, as field ``field``: ``required``
    when empty, else ``AUTH_PASSWORD_VALIDATORS`` (their own codes, e.g. ``password_too_similar``
    to the user's attributes)."""
    if not password:
        return [FieldError(field, _("This field is required."), "required")]
    try:
        validate_password(password, user)
    except ValidationError as error:
        return field_errors(error, field)
    return []


def email_errors(model: Any, email_field: str, email: str) -> list[FieldError]:
    """Whether the separate email field's value may be stored (uniqueness aside)."""
    if not email:
        # REQUIRED_FIELDS only drives createsuperuser's prompts (Django's User lists
        # a blank=True email there); the model field says whether it may be empty.
        required = auth_settings.REGISTRATION_EMAIL_CONFIRM or not model._meta.get_field(email_field).blank
        return [FieldError("email", _("This field is required."), "required")] if required else []
    try:
        identities.validate_identity(email, email=True)
    except ValidationError as error:
        return field_errors(error, "email")
    return []


def uniqueness_errors(model: Any, *, username: str = "", email: str = "") -> list[FieldError]:
    """``unique`` errors for a username or an address another account has in any spelling
    (``identities.username_in_use`` / ``email_in_use``); an empty value is not checked."""
    errors = []
    if username and identities.username_in_use(username):
        errors.append(username_taken(model))
    if email and identities.email_in_use(email):
        errors.append(FieldError("email", _("A user with that email already exists."), "unique"))
    return errors


def username_taken(model: Any) -> FieldError:
    error = model().unique_error_message(model, (model.USERNAME_FIELD,))
    return FieldError("username", error.message % (error.params or {}), "unique")

