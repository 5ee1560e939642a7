"""Identities: the one normalisation of usernames and email addresses, and the account each reaches.

``register``, ``login``, ``resend_confirmation_email``, the reset mail and
``change_email`` (and every later operation that takes a username or an
address) normalise through here, so what a person typed when registering
finds the same account when they log in, and throttle buckets are keyed on the
account rather than on a spelling (API.md §8: "identities normalised once").

Two spellings are one identity when their ``fold`` is equal: NFKC, without
default-ignorable code points, Unicode case folding (``ß`` and ``ẞ`` are
``ss``, ``ς`` is ``σ``) and the dotless and dotted i as ``i``. The fold is
computed here, in Python, never by the database: SQLite's ``LIKE`` folds only
ASCII and PostgreSQL's ``UPPER()`` leaves ``ß`` alone, so the database only
narrows the rows to compare (``_accounts_whose``). Uniqueness follows Django's
``UserCreationForm`` (since 4.2) with this fold: a username or address whose
fold is taken is taken. Letters of other scripts that merely look alike
(Cyrillic ``і`` beside Latin ``i``) are different identities, as in Django.
Accounts are read from the database they are written to (``primary.users()``):
a read replica that lags would let a taken name pass, or put an account's
attempts in a name's throttle bucket.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import BaseUserManager
from django.core import validators
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Q
from django.utils.encoding import punycode

from . import primary

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): code points
# a renderer shows as nothing (zero-width space and joiners, the soft hyphen,
# bidirectional marks, the BOM, variation selectors, tags, Hangul fillers).
# "alice\u200b" looks like "alice"; IDNA maps some of them away in a domain, so
# "exam\u00adple.com" even reaches the same mailbox as "example.com".
_DEFAULT_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)

# Rows whose value has a character outside ASCII (for ``_accounts_whose``); the
# same pattern is read by Python's ``re`` (SQLite's REGEXP) and PostgreSQL's ``~``.
_NON_ASCII = r"[^\x01-\x7f]"


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
    whitespace removed, and the domain as Django's mailer will send to it
    (``mail_domain``: ``EXAM\u00adPLE.com``, ``example.com\u200b`` and
    ``example.com`` are all ``example.com``; ``straße.de`` is ``strasse.de``).
    The local part keeps its case; comparisons ignore it (``fold``)."""
    email = BaseUserManager.normalize_email(unicodedata.normalize("NFKC", value or "")).strip()
    local, at, domain = email.rpartition("@")
    return f"{local}@{mail_domain(domain)}" if at else email


def mail_domain(domain: str) -> str:
    """A domain as Django's mailer encodes it (``sanitize_address`` up to Django 5.2, the SMTP
    backend's ``prep_address`` from 6.0, both through ``django.utils.encoding.punycode``: IDNA
    2003, which maps default-ignorable code points to nothing, case-folds, and makes ``ß``
    ``ss``), each ``xn--`` label given back in its Unicode form, so every spelling that
    reaches one mail domain is one spelling. A domain the codec refuses (no mail can be sent to it, and Django's
    ``validate_email`` refuses it too) is given lower-cased, as it is."""
    try:
        encoded = punycode(domain)
    except UnicodeError:
        return domain.lower()
    return ".".join(_unicode_label(label) for label in encoded.lower().split("."))


def _unicode_label(label: str) -> str:
    """An IDNA ``xn--`` label as Unicode; any other label, or one that does not decode, as it is."""
    if not label.startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:
        return label


def fold(value: str) -> str:
    """The key two spellings of one identity share: NFKC, default-ignorable code points
    removed, ``casefold()`` (as Django's ``PasswordResetForm`` compares addresses), the
    dotless ``ı`` and the dotted ``İ`` (``i`` + U+0307 once folded) as ``i``, NFKC again.

    Usernames and normalised addresses are compared, locked and throttled by it.
    """
    value = _DEFAULT_IGNORABLE.sub("", unicodedata.normalize("NFKC", value))
    value = unicodedata.normalize("NFD", value.casefold()).replace("\u0131", "i").replace("i\u0307", "i")
    return unicodedata.normalize("NFKC", value)


def validate_identity(value: str, *, email: bool) -> None:
    """Refuse, with code ``invalid``, a normalised username or address (``email``) that a new
    account or a new address may not have: an address Django's ``validate_email`` refuses,
    and any default-ignorable code point (``alice\u200b@example.com`` would look like, and
    ``fold`` would match, ``alice@example.com``; ``mail_domain`` already removed those of a domain)."""
    if email:
        validators.validate_email(value)
    if _DEFAULT_IGNORABLE.search(value):
        message = validators.EmailValidator.message if email else validators.RegexValidator.message
        raise ValidationError(message, code="invalid")


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


def _accounts_whose(field: str, value: str) -> Any:
    """The accounts whose ``field`` folds (``fold``) to what ``value`` folds to (a queryset).

    The database only narrows the rows (it cannot fold as ``fold`` does): an
    ASCII value that folds to the key is the key in ASCII case (``__iexact``);
    one with other characters keeps only ASCII characters that the key has
    (in its decomposed form; an ASCII letter can fold only to itself, or
    compose with a following mark), which a regular expression checks. The
    rows left are compared in Python. Other databases than SQLite and
    PostgreSQL compare every row in Python.
    """
    manager = primary.users()  # these reads decide (uniqueness, who gets mail): never a replica
    key = fold(value)
    if not key:
        return manager.none()
    rows = manager.all()
    if connections[primary.alias(get_user_model())].vendor in ("sqlite", "postgresql"):
        ascii_chars = {char for char in unicodedata.normalize("NFD", key) if char.isascii()}
        allowed = "".join(sorted({re.escape(c) for char in ascii_chars for c in (char, char.upper())}))
        only = f"^(?:{_NON_ASCII}|[{allowed}])*$" if allowed else f"^{_NON_ASCII}*$"
        rows = rows.filter(Q(**{f"{field}__iexact": key})
                           | Q(**{f"{field}__regex": _NON_ASCII}) & Q(**{f"{field}__regex": only}))
    pks = [pk for pk, stored in rows.values_list("pk", field) if stored and fold(stored) == key]
    # ``pk IS NULL`` matches nothing, but keeps the query when ``pks`` is empty (Django skips
    # a query on an empty ``IN``): an unknown address costs the queries a known one costs.
    return manager.filter(Q(pk__in=pks) | Q(pk__isnull=True))


def accounts_with_email(email: str) -> Any:
    """The accounts whose address is ``email`` in any spelling (``fold``), a queryset, as
    Django's ``PasswordResetForm`` finds them; several accounts may share an address."""
    return _accounts_whose(get_user_model().get_email_field_name(), email)


def find_account_by_email(email: str) -> Any | None:
    """The account a normalised address reaches: the oldest (lowest pk) of
    ``accounts_with_email``, or None."""
    if not email:
        return None
    return accounts_with_email(email).order_by("pk").first()


def username_in_use(username: str) -> bool:
    """Whether an account has this username in any spelling (``fold``; ``UserCreationForm.clean_username``
    compares case), or the manager's ``get_by_natural_key`` already reaches one with it (a manager that folds more)."""
    taken = _accounts_whose(get_user_model().USERNAME_FIELD, username).exists()
    return taken or find_account(username) is not None


def email_in_use(email: str) -> bool:
    """Whether an account has this address in any spelling (``fold``)."""
    return accounts_with_email(email).exists()


def email_in_use_by_another(user: Any, email: str) -> bool:
    """Whether an account other than ``user`` has this address in any spelling, or, when the
    username is the address, the manager's ``get_by_natural_key`` reaches another account
    with it (as ``username_in_use``): what a change of address must find free."""
    if accounts_with_email(email).exclude(pk=user.pk).exists():
        return True
    account = find_account(email) if email_is_username() else None
    return account is not None and account.pk != user.pk


def lock_identities(values: Iterable[str]) -> None:
    """Serialise, until the transaction ends, every transaction that claims one of these
    identities (usernames, addresses), compared as ``fold`` compares them.

    Registration checks that an identity is free and then creates the account;
    two registrations of ``carol@example.com`` and ``CAROL@example.com`` at the
    same moment would both pass the check, and no unique constraint stops them
    (the user model is the project's, so the package adds no constraint to it).
    On PostgreSQL this takes one transaction-level advisory lock per identity,
    keyed on ``hashtext()`` of its ``fold`` (computed in Python, so every
    spelling of one identity takes the same lock), in key order so two claims
    never deadlock; a hash collision only makes two unrelated registrations
    wait for each other. Under READ COMMITTED (Django's default) a check made
    after the lock sees the account the previous holder committed. Other
    databases: SQLite runs one writer at a time; elsewhere the username's own
    unique constraint still refuses exact duplicates.
    Call inside ``transaction.atomic()``.
    """
    keys = sorted({fold(value) for value in values if value} - {""})
    connection = connections[primary.alias(get_user_model())]  # where the accounts are written
    if connection.vendor != "postgresql" or not keys:
        return
    with connection.cursor() as cursor:
        # The two-key form: a key space of its own, apart from other apps' bigint keys.
        cursor.execute("SELECT DISTINCT hashtext(v) AS k FROM unnest(%s::text[]) AS v ORDER BY k", [keys])
        hashes = [row[0] for row in cursor.fetchall()]
        for key in hashes:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('gql_authtoken.identity'), %s)", [key])
