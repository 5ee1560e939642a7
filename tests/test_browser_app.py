"""End to end in headless Chromium: the example's single-page app (``/app/``) with the token in
an HttpOnly cookie (API.md §11), and a page on another origin that tries to use that cookie.

Needs Debian's chromium and the playwright package, as tests/test_browser.py does: CI
(``CI=true``) fails without them, a laptop without them skips with a reason.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import CHROMIUM, browser_missing, example_server, free_port, skip_without_browser

ROOT = Path(__file__).resolve().parent.parent
COOKIE = "authtoken"


skip_without_browser()


@pytest.fixture(scope="module")
def site():
    """The example project: its origin, e.g. http://127.0.0.1:8000."""
    with example_server() as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def other_origin(site):
    """Another origin (same host, a second port) serving a page that tries to act with the site's cookie.

    Yields its origin and the ``Cookie`` headers its server received.
    """
    page = FORGER_PAGE.replace("SITE", site).encode()
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            received.append(self.headers.get("Cookie") or "")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


# Each attempt asks to log the user out everywhere: refused, it leaves the session alive.
FORGER_PAGE = """<!doctype html>
<html><body>
<form id="graphql-form" method="POST" action="SITE/graphql/" enctype="text/plain">
  <input name='{"query": "mutation { logoutAll { __typename } }", "padding": "' value='"}'>
</form>
<form id="rest-form" method="POST" action="SITE/auth/logoutall/"><input name="x" value="1"></form>
<script>
const MUTATION = JSON.stringify({query: "mutation { logoutAll { __typename } }"});
async function forge(contentType, mode = "cors") {
  try {
    const response = await fetch("SITE/graphql/", {method: "POST", credentials: "include", mode,
                                                  headers: {"Content-Type": contentType}, body: MUTATION});
    return "answered " + response.type + " " + response.status;
  } catch (error) {
    return "refused: " + error.message;
  }
}
</script>
</body></html>
"""


@pytest.fixture
def browser():
    reason = browser_missing()
    if reason:
        pytest.fail(f"CI needs the browser test's tools: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        context = chromium.new_context()
        yield context
        chromium.close()


def auth_cookie(context):
    return next((c for c in context.cookies() if c["name"] == COOKIE), None)


def token_is_hidden_from_scripts(page, token: str) -> None:
    seen = page.evaluate("""() => JSON.stringify([document.cookie, {...localStorage}, {...sessionStorage},
                                                   document.documentElement.outerHTML])""")
    assert token not in seen
    assert COOKIE not in page.evaluate("document.cookie")


def logged_in_as(page) -> str:
    page.locator("#account").wait_for(state="visible", timeout=15_000)
    return page.locator("#who").inner_text()


def test_single_page_app_logs_in_survives_a_reload_and_logs_out(browser, site):
    page = browser.new_page()
    page.goto(f"{site}/app/")
    page.locator("#login").wait_for(state="visible", timeout=15_000)
    assert auth_cookie(browser) is None

    page.fill("#username", "demo")
    page.fill("#password", "demo-password")
    with page.expect_response(lambda r: r.url.endswith("/graphql/") and "login" in (r.request.post_data or "")) as info:
        page.click("#login button[type=submit]")
    login = info.value.json()["data"]["login"]
    assert login["__typename"] == "LoginResult" and login["token"] is None  # the body carries no token
    assert logged_in_as(page) == "demo"

    cookie = auth_cookie(browser)
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert not cookie["secure"]  # the example serves plain http://127.0.0.1 (see its settings)
    assert cookie["expires"] > 0  # expires with the token (the web client's 12 hours), not with the browser
    token_is_hidden_from_scripts(page, cookie["value"])
    sessions = page.locator("#sessions li")
    assert sessions.count() == 1 and sessions.first.get_attribute("class") == "current"
    assert sessions.first.get_attribute("data-client") == "web"

    page.reload()
    assert logged_in_as(page) == "demo"  # the cookie survived the reload
    token_is_hidden_from_scripts(page, cookie["value"])

    page.click("#logout")
    page.locator("#login").wait_for(state="visible", timeout=15_000)
    assert auth_cookie(browser) is None  # deleted by the logout's answer
    page.reload()
    page.locator("#login").wait_for(state="visible", timeout=15_000)
    # The revoked token is refused even if a copy of the cookie comes back.
    browser.add_cookies([cookie])
    page.reload()
    page.locator("#login").wait_for(state="visible", timeout=15_000)
    assert auth_cookie(browser) is None  # an invalid cookie is deleted by the next answer


def test_a_page_on_another_origin_cannot_use_the_session(browser, site, other_origin):
    other_origin, cookies_received = other_origin
    app = browser.new_page()
    app.goto(f"{site}/app/")
    app.locator("#login").wait_for(state="visible", timeout=15_000)
    app.fill("#username", "demo")
    app.fill("#password", "demo-password")
    app.click("#login button[type=submit]")
    assert logged_in_as(app) == "demo"
    token = auth_cookie(browser)["value"]

    forger = browser.new_page()
    forger.goto(f"{other_origin}/")
    # A JSON fetch with credentials needs a CORS preflight, which the site does not grant;
    # one without a preflight (text/plain) is sent, but the page may not read the answer.
    assert forger.evaluate("forge('application/json')").startswith("refused")
    assert forger.evaluate("forge('text/plain')").startswith("refused")
    # Sent as "no-cors", it goes out with the cookie (same site, other origin) and the page
    # gets an opaque answer: Django's CSRF check refused it (no X-CSRFToken, foreign Origin).
    with forger.expect_response(f"{site}/graphql/") as info:
        assert forger.evaluate("forge('text/plain', 'no-cors')") == "answered opaque 0"
    assert info.value.status == 403
    # Plain HTML forms, posted to GraphQL and to REST.
    for form in ("graphql-form", "rest-form"):
        forger.goto(f"{other_origin}/")
        with forger.expect_navigation() as navigation:
            forger.evaluate(f"document.getElementById({json.dumps(form)}).submit()")
        assert navigation.value.status == 403, form

    assert auth_cookie(browser)["value"] == token  # nothing deleted the cookie
    # Cookies are per host, not per port (RFC 6265 §8.5): the other origin's server got the
    # cookie with its own page (docs/cookies.md says so); its page still cannot use or read it.
    assert any(f"{COOKIE}={token}" in header for header in cookies_received)
    app.reload()
    assert logged_in_as(app) == "demo"  # the session is alive: no forged logoutAll went through
    assert app.locator("#sessions li").count() == 1
