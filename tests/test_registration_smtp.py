"""Confirmation mail over real SMTP to a local server, and the link followed from it."""

from __future__ import annotations

import email
import email.header
import re

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth import get_user_model

from .conftest import free_port
from .test_registration import CONFIRM_ACTIVE, GOOD


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def test_confirmation_mail_over_smtp_and_link(smtp_server, settings, client, db):
    controller, inbox = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.GQL_AUTHTOKEN = {**CONFIRM_ACTIVE, "REGISTRATION_EMAIL": {"BASE_URL": "http://testserver",
                                                                       "FROM": "Accounts <accounts@example.com>"}}
    response = client.post("/auth/register/", {"username": "carol", "password": GOOD, "email": "carol@example.com"},
                           content_type="application/json")
    assert response.status_code == 201
    [(recipients, raw)] = inbox.messages
    assert recipients == ["carol@example.com"]
    message = email.message_from_bytes(raw)
    assert message["From"] == "Accounts <accounts@example.com>"
    assert message["Subject"] == "Confirm your email address"
    body = message.get_payload(decode=True).decode()
    url = re.search(r"http://testserver(/auth/register/confirm/\S+/)", body).group(1)
    assert client.get(url).status_code == 200  # the page with the button; opening it confirms nothing
    assert not get_user_model().objects.get(username="carol").is_active
    assert client.post(url).status_code == 302
    assert get_user_model().objects.get(username="carol").is_active
    assert client.post(url).status_code == 400


def test_password_reset_mail_over_smtp_and_its_link(smtp_server, settings, client, db):
    controller, inbox = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.GQL_AUTHTOKEN = {"PASSWORD_RESET_URL": "https://app.example.com/reset/{token}",
                              "PASSWORD_RESET_EMAIL": {"FROM": "Accounts <accounts@example.com>"}}
    user = get_user_model().objects.create_user("carol", "carol@example.com", "old " + GOOD)
    response = client.post("/auth/password/reset/", {"email": "Carol@Example.com"}, content_type="application/json",
                           headers={"Accept-Language": "de"})
    assert (response.status_code, response.json()) == (200, {"success": True})
    [(recipients, raw)] = inbox.messages
    assert recipients == ["carol@example.com"]
    message = email.message_from_bytes(raw)
    assert message["From"] == "Accounts <accounts@example.com>"
    assert str(email.header.make_header(email.header.decode_header(message["Subject"]))) == "Passwort zurücksetzen"
    body = message.get_payload(decode=True).decode()
    assert body.startswith("Hallo carol,")
    token = re.search(r"https://app\.example\.com/reset/(\S+)", body).group(1)
    confirm = {"token": token, "new_password": GOOD}
    response = client.post("/auth/password/reset/confirm/", confirm, content_type="application/json")
    assert (response.status_code, response.json()) == (200, {"success": True})
    user.refresh_from_db()
    assert user.check_password(GOOD)
    response = client.post("/auth/password/reset/confirm/", confirm, content_type="application/json")
    assert response.status_code == 400 and list(response.json()) == ["token"]
