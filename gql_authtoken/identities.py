"""Identities: the one normalisation of usernames and email addresses, and the account each reaches.

``register``, ``login`` and ``resend_confirmation_email`` (and every later
operation that takes a username or an address) normalise through here, so
what a person typed when registering finds the same account when they log
in, and throttle buckets are keyed on the account rather than on a spelling
(API.md §8: "identities normalised once").

Uniqueness follows Django's ``UserCreationForm`` (since 4.2): a username or
address that differs from a taken one only in case is taken too. It is
compared by the database (``__iexact``), so it folds case as the database
does: PostgreSQL's ``UPPER()`` folds all of Unicode (``ı`` to ``I``),
SQLite's ``LIKE`` only ASCII. Accounts are read from the database they are
written to (``primary.users()``): a read replica that lags would let a taken
name pass, or put an account's attempts in a name's throttle bucket.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.db import connections

from . import primary


def email_is_username(model: Any = None) -> bool:
    """Whether the user model signs in with its email address (``USERNAME_FIELD`` is its email field)."""
    model = model or get_user_model()
    return model.USERNAME_FIELD == model.get_email_field_name()


def normalize_username(value: str | None) -> str:
    """A username as it is stored and looked up: the user model's ``normalize_username``
    (NFKC: fullwidth ``ｆｉｎｎ`` and the ligature ``ﬁnn`` both become ``finn``), without
    surrounding whitespace; an address (``normalize_email``) when the username is the email.

    Django's own login form normalises the same way (``UsernameField.to_python``).
    Case is kept: whether ``Alice`` logs in as ``alice`` is the user manager's
    ``get_by_natural_key``'s choice, not this package's.
    """
    model = get_user_model()
    value = model.normalize_username(value or "").strip()
    return normalize_email(value) if email_is_username(model) else value


def normalize_email(value: str | None) -> str:
    """An address as it is stored and looked up: NFKC (as usernames), surrounding
    whitespace removed and the domain lower-cased (``BaseUserManager.normalize_email``),
    its ASCII-encoded labels (``xn--exmple-cua``) in their Unicode form (``exämple``),
    so both spellings of one internationalised domain are one address.
    The local part keeps its case; comparisons ignore it (``__iexact``)."""
    email = BaseUserManager.normalize_email(unicodedata.normalize("NFKC", value or "")).strip()
    local, at, domain = email.rpartition("@")
    if not at or "xn--" not in domain:
        return email
    return f"{local}@{'.'.join(_unicode_label(label) for label in domain.split('.'))}"


def _unicode_label(label: str) -> str:
    """An IDNA ``xn--`` label as Unicode; any other label, or one that does not decode, as it is."""
    if not label.startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        return label


def fold(value: str) -> str:
    """The case-free form of a normalised identity that reaches no account (a throttle
    bucket's name): NFKC then ``casefold()``, as Django's ``PasswordResetForm`` compares addresses."""
    return unicodedata.normalize("NFKC", value).casefold()


def find_account(username: str) -> Any | None:
    """The account a normalised username reaches at login, or None.

    Asked as Django's ``ModelBackend`` asks, through the default manager's
    ``get_by_natural_key``, so a case-insensitive manager folds variants onto
    one account. None when no account, or several, match.
    """
    model: Any = get_user_model()
    try:
        return primary.users().get_by_natural_key(username)
    except (model.DoesNotExist, model.MultipleObjectsReturned):
        return None


def accounts_with_email(email: str) -> Any:
    """The accounts whose address is ``email`` in any case (a queryset), as Django's
    ``PasswordResetForm`` finds them; several accounts may share an address."""
    model = get_user_model()
    return primary.users().filter(**{f"{model.get_email_field_name()}__iexact": email})


def find_account_by_email(email: str) -> Any | None:
    """The account a normalised address reaches: the oldest (lowest pk) of ``accounts_with_email``
    whose own address folds (``fold``) to the same as ``email``, or None.

    The database's case-insensitive match can reach further than ``fold``
    (PostgreSQL's ``UPPER()`` makes the dotless ``ı`` an ``I``): such a spelling
    gets no mail, and must not share the account's throttle bucket either, or a
    full bucket would tell which addresses have accounts.
    """
    if not email:
        return None
    wanted = fold(email)
    email_field = get_user_model().get_email_field_name()
    return next((account for account in accounts_with_email(email).order_by("pk")
                 if fold(getattr(account, email_field, "") or "") == wanted), None)


def username_in_use(username: str) -> bool:
    """Whether an account has this username in any case (``UserCreationForm.clean_username``),
    or the manager's ``get_by_natural_key`` already reaches one with it (a manager that folds more)."""
    model = get_user_model()
    taken = primary.users().filter(**{f"{model.USERNAME_FIELD}__iexact": username}).exists()
    return taken or find_account(username) is not None


def email_in_use(email: str) -> bool:
    """Whether an account has this address in any case."""
    return accounts_with_email(email).exists()


def email_in_use_by_another(user: Any, email: str) -> bool:
    """Whether an account other than ``user`` has this address in any case, or, when the
    username is the address, the manager's ``get_by_natural_key`` reaches another account
    with it (as ``username_in_use``): what a change of address must find free."""
    if accounts_with_email(email).exclude(pk=user.pk).exists():
        return True
    account = find_account(email) if email_is_username() else None
    return account is not None and account.pk != user.pk


def lock_identities(values: Iterable[str]) -> None:
    """Serialise, until the transaction ends, every transaction that claims one of these
    identities (usernames, addresses), compared as ``__iexact`` compares them.

    Registration checks that an identity is free and then creates the account;
    two registrations of ``carol@example.com`` and ``Carol@example.com`` at the
    same moment would both pass the check, and no unique constraint stops them
    (the user model is the project's, so the package adds no constraint to it).
    On PostgreSQL this takes one transaction-level advisory lock per identity,
    keyed on ``hashtext(upper(value))`` (the folding ``__iexact`` uses), in key
    order so two claims never deadlock; a hash collision only makes two
    unrelated registrations wait for each other. Under READ COMMITTED (Django's
    default) a check made after the lock sees the account the previous holder
    committed. Other databases: SQLite runs one writer at a time; elsewhere the
    username's own unique constraint still refuses exact duplicates.
    Call inside ``transaction.atomic()``.
    """
    identities = sorted({value for value in values if value})
    connection = connections[primary.alias(get_user_model())]  # where the accounts are written
    if connection.vendor != "postgresql" or not identities:
        return
    with connection.cursor() as cursor:
        # The two-key form: a key space of its own, apart from other apps' bigint keys.
        cursor.execute(
            "SELECT DISTINCT hashtext(upper(v)) AS k FROM unnest(%s::text[]) AS v ORDER BY k", [identities]
        )
        keys = [row[0] for row in cursor.fetchall()]
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('gql_authtoken.identity'), %s)", [key])
