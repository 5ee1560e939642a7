"""The mailed link ``auth/register/confirm/<token>/`` (API.md §6, §7).

Mail scanners and link previews open links, so GET and HEAD only show a page
whose button POSTs (with Django's CSRF protection); the POST confirms.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gql_authtoken.accounts import registration

from .test_middleware import check_ids
from .test_registration import CONFIRM_ACTIVE, GOOD, token_from_mail

User = get_user_model()


@pytest.fixture
def confirming(settings):
    settings.GQL_AUTHTOKEN = CONFIRM_ACTIVE


@pytest.fixture
def link(confirming, db) -> str:
    """The path of carol's link; carol is inactive until it is used."""
    registration.register(None, username="carol", password=GOOD, email="carol@example.com")
    return f"/auth/register/confirm/{token_from_mail(mail.outbox[0])}/"


def carol_is_active() -> bool:
    return User.objects.get(username="carol").is_active


def csrf_from(page) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)


def test_get_shows_a_page_whose_form_posts_back_with_a_csrf_token(link):
    client = Client(enforce_csrf_checks=True)
    page = client.get(link)
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    [form] = re.findall(r"<form[^>]*>", html)
    assert form == '<form method="post">'  # no action: it posts to this very URL
    assert 'name="csrfmiddlewaretoken"' in html and "<button" in html
    assert "Confirm your email address" in html
    token = link.split("/")[-2]
    assert token not in html  # nowhere in the page
    assert "csrftoken" in page.cookies
    assert not carol_is_active()


def test_page_headers_keep_it_out_of_caches_frames_and_referers(link):
    page = Client().get(link)
    assert "no-store" in page["Cache-Control"]
    assert page["X-Frame-Options"] == "DENY"
    assert page["Referrer-Policy"] == "strict-origin"


def test_get_and_head_change_nothing(link):
    client = Client()
    for _ in range(3):
        assert client.get(link).status_code == 200
        assert client.head(link).status_code == 200
    assert not carol_is_active()
    assert client.post(link).status_code == 302  # the link is still usable
    assert carol_is_active()


def test_get_and_head_do_not_count_against_the_throttle(settings, link):
    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "ACCOUNT_THROTTLE_RATE": "1/hour"}
    client = Client()
    for _ in range(5):
        client.get(link), client.head(link)
    assert client.post(link).status_code == 302


def test_the_page_is_the_same_for_any_token(confirming, db):
    client = Client()
    for path in ("/auth/register/confirm/nope/", "/auth/register/confirm/" + "A" * 64 + "/"):
        page = client.get(path)
        assert page.status_code == 200 and 'name="csrfmiddlewaretoken"' in page.content.decode()


def test_post_without_csrf_token_is_refused(link):
    client = Client(enforce_csrf_checks=True)
    client.get(link)  # has the CSRF cookie, but the form field is missing
    assert client.post(link).status_code == 403
    assert Client(enforce_csrf_checks=True).post(link, {"csrfmiddlewaretoken": "x" * 64}).status_code == 403
    assert not carol_is_active()


def test_pressing_the_button_confirms_and_redirects(settings, link):
    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "REGISTRATION_CONFIRM_REDIRECT_PATH": "/welcome/"}
    client = Client(enforce_csrf_checks=True)
    page = client.get(link)
    response = client.post(link, {"csrfmiddlewaretoken": csrf_from(page)})
    assert response.status_code == 302 and response["Location"] == "/welcome/"
    assert response["Referrer-Policy"] == "no-referrer"  # the landing page never sees the link
    assert "no-store" in response["Cache-Control"]
    assert carol_is_active()
    again = client.post(link, {"csrfmiddlewaretoken": csrf_from(page)})
    assert again.status_code == 400 and again["Content-Type"].startswith("text/plain")


def test_the_page_policy_keeps_the_origin_that_the_csrf_check_needs(link):
    """Under "no-referrer" browsers send ``Origin: null`` with the form, which
    Django refuses; "strict-origin" sends the site's origin, which it accepts."""
    client = Client(enforce_csrf_checks=True)
    csrf = csrf_from(client.get(link))
    assert client.post(link, {"csrfmiddlewaretoken": csrf}, headers={"Origin": "null"}).status_code == 403
    response = client.post(link, {"csrfmiddlewaretoken": csrf}, headers={"Origin": "http://testserver"})
    assert response.status_code == 302 and carol_is_active()


def test_throttled_post_is_429_with_retry_after(settings, confirming, db):
    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "ACCOUNT_THROTTLE_RATE": "1/hour"}
    client = Client()
    assert client.post("/auth/register/confirm/guess/").status_code == 400
    response = client.post("/auth/register/confirm/guess2/")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert response["Content-Type"].startswith("text/plain")
    assert re.match(r"Too many attempts\. Try again in \d+ seconds?\.", response.content.decode())


def test_confirm_on_get_restores_the_one_click_link(settings, link):
    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "REGISTRATION_CONFIRM_ON_GET": True,
                              "REGISTRATION_CONFIRM_REDIRECT_PATH": "/welcome/"}
    client = Client()
    assert client.head(link).status_code == 200
    assert not carol_is_active()  # HEAD still changes nothing
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == "/welcome/"
    assert carol_is_active()
    assert client.get(link).status_code == 400


def test_german_page(link):
    html = Client().get(link, headers={"Accept-Language": "de"}).content.decode()
    assert '<html lang="de">' in html
    assert "Bestätigen Sie Ihre E-Mail-Adresse" in html and ">Bestätigen</button>" in html


ODD_PATHS = ["%00", "a%00b", "%ED%A0%80", "%FF%FE", "%F0%9F%98%80%E2%80%AE", "%C3%A9" * 300, "x" * 10_000,
             "%0A%0D", "%2E%2E", "%25", "%5C"]


@pytest.mark.parametrize("token", ODD_PATHS)
def test_odd_tokens_in_the_path_are_never_a_server_error(confirming, db, token):
    client = Client()
    path = f"/auth/register/confirm/{token}/"
    assert client.get(path).status_code == 200
    assert client.head(path).status_code == 200
    assert client.post(path).status_code == 400


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(token=st.text(min_size=1, max_size=300))
def test_any_text_as_token_is_never_a_server_error(confirming, db, token):
    path = "/auth/register/confirm/" + quote(token.encode("utf-8", "surrogatepass"), safe="") + "/"
    client = Client()
    assert client.get(path).status_code in (200, 404)  # 404: a path with no token left in it
    assert client.post(path).status_code in (400, 404, 429)


def test_check_needs_a_template_engine_for_the_page():
    confirm = {"REGISTRATION_EMAIL_CONFIRM": True, "REGISTRATION_EMAIL": {"BASE_URL": "http://x"}}
    assert "gql_authtoken.E015" not in check_ids(GQL_AUTHTOKEN=confirm)
    assert "gql_authtoken.E015" in check_ids(GQL_AUTHTOKEN=confirm, TEMPLATES=[])


def test_a_program_may_post_json_without_a_csrf_token(link):
    """No session cookie and a body no HTML form can send: nothing a browser could be tricked into."""
    response = Client(enforce_csrf_checks=True).post(link, "{}", content_type="application/json")
    assert response.status_code == 302 and carol_is_active()


def test_the_link_and_the_rest_endpoints_work_under_login_required_middleware(link, settings):
    """Django's LoginRequiredMiddleware (5.1) sends anonymous requests to LOGIN_URL unless the
    view is marked login_not_required: the person following the link is never logged in."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    client = Client(enforce_csrf_checks=True)
    page = client.get(link)
    assert page.status_code == 200, page.get("Location")
    assert client.post(link, {"csrfmiddlewaretoken": csrf_from(page)}).status_code == 302
    assert carol_is_active()
    login = Client().post("/auth/login/", {"username": "carol", "password": GOOD})
    assert login.status_code == 200, login.content
    assert Client().get("/whoami/").status_code == 302  # the middleware is on: a plain view redirects
