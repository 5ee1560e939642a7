"""Revocation against what races it or hides from it: a login in flight, proxy models,
entries kept warm by use, and error reports that must not carry secrets."""

from __future__ import annotations

import sys
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as AuthUser
from django.core.checks import run_checks
from django.core.signals import got_request_exception
from django.test import Client as DjangoClient
from django.views.debug import ExceptionReporter

from gql_authtoken import cache as token_cache
from gql_authtoken import clock, login, sessions, tokens
from gql_authtoken.exceptions import InactiveUser, InvalidCredentials, InvalidToken
from gql_authtoken.models import AuthToken, Client

from .conftest import PASSWORD
from .test_revocation import _graphql, _rest

User = get_user_model()


class StaffUser(AuthUser):
    """A proxy of the user model, as projects declare for a second admin page."""

    class Meta:
        proxy = True
        app_label = "auth"


def accepted(token):
    return [name for name, ok in [("rest", _rest("/not-cli/", token)), ("cached", _rest("/cached/", token)),
                                  ("graphql", _graphql("sync", token))] if ok]


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.mark.parametrize("change", ["set_password", "deactivate"])
def test_a_login_in_flight_when_the_password_changes_gets_no_token(alice, monkeypatch, change):
    """The password is checked, then the owner changes it (or is deactivated) before the
    token is written: the login must fail and leave no token behind."""
    real_authenticate = login.authenticate

    def authenticate_then_owner_acts(request, **credentials):
        user = real_authenticate(request, **credentials)
        owner = User.objects.get(pk=alice.pk)
        if change == "set_password":
            owner.set_password("the owner's new passphrase")
        else:
            owner.is_active = False
        owner.save()
        return user

    monkeypatch.setattr(login, "authenticate", authenticate_then_owner_acts)
    with pytest.raises(InvalidCredentials if change == "set_password" else InactiveUser):
        login.login(None, username="alice", password=PASSWORD)
    assert not AuthToken.objects.exists()


def test_an_api_key_asked_for_by_a_revoked_session_is_not_issued(alice, settings):
    settings.GQL_AUTHTOKEN = {"API_ACCESS_CLIENT_NAME": "api"}
    Client.objects.create(name="api", token_ttl=None)
    session = tokens.issue_token(alice).instance
    tokens.revoke_all_tokens(alice)  # while the request that authenticated with it runs
    with pytest.raises(InvalidToken):
        sessions.issue_api_key(alice, session=session)
    assert not AuthToken.objects.exists()


@pytest.mark.parametrize("change", ["set_password", "set_unusable_password", "deactivate", "delete"])
def test_saves_through_a_proxy_model_revoke(alice, change):
    token = tokens.issue_token(alice).token
    assert accepted(token) == ["rest", "cached", "graphql"]
    staff = StaffUser.objects.get(pk=alice.pk)
    if change == "delete":
        staff.delete()
    else:
        if change == "deactivate":
            staff.is_active = False
        else:
            getattr(staff, change)(*(["a brand new passphrase"] if change == "set_password" else []))
        staff.save()
        if change == "deactivate":
            staff.is_active = True
            staff.save()
    assert accepted(token) == []


def test_an_entry_kept_warm_by_use_still_expires_with_the_cache_timeout(alice, settings, monkeypatch):
    """A bulk change without ``invalidate_user_tokens`` shows within TOKEN_CACHE_TIMEOUT,
    even when every request records ``last_used`` and stores the entry again."""
    settings.GQL_AUTHTOKEN = {"TOKEN_CACHE_TIMEOUT": 30, "LAST_USED_UPDATE_INTERVAL": timedelta(seconds=1)}
    token = tokens.issue_token(alice).token
    start = token_cache.clock()
    for offset in (0, 10, 20):
        monkeypatch.setattr(token_cache, "clock", lambda offset=offset: start + offset)
        monkeypatch.setattr(clock, "now", lambda offset=offset: clock.timezone.now() + timedelta(seconds=offset))
        assert _rest("/cached/", token)
    User.objects.filter(pk=alice.pk).update(is_active=False)  # no signal, no invalidation
    monkeypatch.setattr(token_cache, "clock", lambda: start + 31)
    monkeypatch.setattr(clock, "now", lambda: clock.timezone.now() + timedelta(seconds=31))
    assert not _rest("/cached/", token)


def test_sessions_and_token_check_show_when_the_cap_ends_a_token(alice, settings):
    token = tokens.issue_token(alice).token
    AuthToken.objects.update(expiry=None)  # issued before the cap was set, or imported from DRF
    settings.GQL_AUTHTOKEN = {"MAX_TOKEN_LIFETIME": timedelta(days=30)}
    instance = AuthToken.objects.get()
    ends = instance.created + timedelta(days=30)
    headers = {"Authorization": f"Token {token}"}
    assert sessions.list_sessions(alice)[0].expiry == ends
    checked = DjangoClient().get("/auth/token/", headers=headers).json()["expiry"]
    listed = DjangoClient().get("/auth/sessions/", headers=headers).json()[0]["expiry"]
    assert checked == listed and checked.startswith(ends.strftime("%Y-%m-%dT%H:%M:%S"))


@pytest.mark.parametrize("name", ["DEFAULT_TOKEN_TTL", "MAX_TOKEN_LIFETIME"])
@pytest.mark.parametrize("value", [timedelta(0), timedelta.max, timedelta(days=9000 * 365)])
def test_lifetimes_that_kill_or_overflow_are_check_errors(settings, name, value):
    settings.GQL_AUTHTOKEN = {name: value}
    assert "gql_authtoken.E016" in {message.id for message in run_checks()}


# --- error reports carry no secret ------------------------------------------------------


def _error_report(send):
    """The HTML report Django mails to ADMINS (and shows in DEBUG) for the request's error."""
    seen = {}

    def keep(sender, request=None, **kwargs):
        seen["request"], seen["exc_info"] = request, sys.exc_info()

    got_request_exception.connect(keep)
    try:
        send(DjangoClient(raise_request_exception=False))
    finally:
        got_request_exception.disconnect(keep)
    assert "exc_info" in seen, "no unexpected error was raised"
    return ExceptionReporter(seen["request"], *seen["exc_info"], is_email=True).get_traceback_html()


def test_an_error_while_authenticating_reports_no_token(alice, monkeypatch):
    token = tokens.issue_token(alice).token

    def cache_down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr(token_cache, "lookup", cache_down)
    report = _error_report(lambda client: client.get("/cached/", headers={"Authorization": f"Token {token}"}))
    assert "cache unreachable" in report and token not in report


def test_an_error_after_login_reports_no_password_or_token_and_leaves_no_token(alice, monkeypatch):
    from django.contrib.auth.signals import user_logged_in

    issued = []
    real_issue = tokens.issue_token
    monkeypatch.setattr(tokens, "issue_token", lambda *a, **k: issued.append(real_issue(*a, **k)) or issued[-1])

    def audit(sender, **kwargs):
        raise RuntimeError("audit log unavailable")

    user_logged_in.connect(audit)
    try:
        report = _error_report(lambda client: client.post("/auth/login/", {"username": "alice",
                                                                           "password": PASSWORD}))
    finally:
        user_logged_in.disconnect(audit)
    assert "audit log unavailable" in report
    assert PASSWORD not in report and issued[0].token not in report
    assert not AuthToken.objects.exists()  # no token that nobody holds
    assert issued[0].token not in repr(issued[0])
