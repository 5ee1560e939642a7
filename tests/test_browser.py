"""End to end in headless Chromium: GraphiQL against the running example project.

Needs Debian's chromium, npm and the playwright package (``.ci/run`` installs
them; CI fails if they are missing, a laptop without them skips with a reason).
GraphiQL's page loads its scripts from unpkg.com, which the browser cannot
reach here: those requests are answered from the same npm packages, installed
locally from tests/browser/package.json.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest

from .conftest import CHROMIUM, example_server, skip_without_browser

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "tests" / "browser"


skip_without_browser(npm=True)


@pytest.fixture(scope="module")
def graphiql_assets() -> Path:
    modules = ASSETS / "node_modules"
    if not (modules / "graphiql" / "graphiql.min.js").exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=ASSETS, check=True,
                       timeout=300)
    return modules


@pytest.fixture(scope="module")
def example_url():
    with example_server() as port:
        yield f"http://127.0.0.1:{port}/graphql/"


@pytest.fixture
def page(graphiql_assets):
    from playwright.sync_api import sync_playwright

    def from_npm(route):
        # https://unpkg.com/<package>@<version>/<path>  ->  node_modules/<package>/<path>
        match = re.match(r"https://unpkg\.com/((?:@[^/]+/)?[^@/]+)@[^/]+/(.+)", route.request.url)
        path = graphiql_assets / match.group(1) / match.group(2)
        route.fulfill(path=str(path))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page()
        page.route("https://unpkg.com/**", from_npm)
        yield page
        browser.close()


def run_in_graphiql(page, url: str, query: str, headers: dict | None = None, expect: str = '"data"') -> str:
    """Open GraphiQL with ``query`` (and request headers) in its editors, press Run, read the result."""
    address = f"{url}?q={quote(query)}"
    if headers:
        address += f"&headers={quote(json.dumps(headers))}"
    page.goto(address)
    page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response")
    result.filter(has_text=expect).wait_for(timeout=15_000)
    return result.inner_text()


def test_login_query_logout_in_graphiql(page, example_url):
    text = run_in_graphiql(page, example_url, 'mutation { login(username: "demo", password: "demo-password") '
                                              "{ ... on LoginResult { token } } }", expect='"token"')
    token = re.search(r'"token":\s*"([^"]+)"', text).group(1)
    headers = {"Authorization": f"Token {token}"}
    run_in_graphiql(page, example_url, 'mutation { addNote(text: "from the browser") { ... on NoteType { id } } }',
                    headers, expect='"id"')
    text = run_in_graphiql(page, example_url, "{ me { username } myNotes { text } }", headers, expect='"demo"')
    assert "from the browser" in text
    text = run_in_graphiql(page, example_url, "mutation { logout { ... on LogoutResult { revokedSessions } } }",
                           headers, expect='"revokedSessions"')
    assert '"revokedSessions": 1' in text
    text = run_in_graphiql(page, example_url, "{ myNotes { text } }", headers, expect='"invalid_token"')
    assert "from the browser" not in text
    page.screenshot(path=str(ROOT / "build" / "graphiql-after-logout.png"))
