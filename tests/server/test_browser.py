"""The web pages in a real browser: headless Chromium, driven by Playwright, over a live server.

The server runs with uvicorn on a free port of 127.0.0.1 over a fresh SQLite store. Each step
saves a screenshot under ``test-artifacts/screenshots/`` (or ``$MLGATE_TEST_ARTIFACTS``), so a
failure can be looked at. Chromium comes from the operating system (scripts/setup.sh installs
it); without it these tests fail, naming what to install.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Dialog, Page, expect

from mlgate.lifecycle.evidence import submit_document
from mlgate.registry.db import Store
from mlgate.server.accounts import Accounts
from mlgate.server.app import create_app
from tests.fixtures import headless_chromium
from tests.server.conftest import server_settings
from tests.server.web_helpers import PASSWORD, business_case, make_project

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "loans"
HOSTILE = "<img src=x onerror=alert(1)>"
TIMEOUT_MS = 10_000


@dataclass
class Live:
    """A running server: its address and the store it serves."""

    url: str
    home: Path
    store: Store


def free_port() -> int:
    """Return a port of 127.0.0.1 that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """The team server on a free local port, with the people of the scenario."""
    settings = server_settings(tmp_path_factory.mktemp("live") / "server")
    settings.prepare()
    store = Store(settings.database_url)
    accounts = Accounts(store)
    for name in ("dana", "val"):
        accounts.create_user("operator", name, PASSWORD)
    make_project(settings, store, PROJECT, "dana", {"val": "validator"})
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, store), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start within 20 s"
        time.sleep(0.05)
    yield Live(f"http://127.0.0.1:{port}", settings.home, store)
    server.should_exit = True
    thread.join(timeout=10)
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium from the operating system."""
    with headless_chromium() as chromium:
        yield chromium


@dataclass
class Tab:
    """A browser tab, the dialogs it tried to open, and where its screenshots go."""

    page: Page
    test: str
    dialogs: list[str] = field(default_factory=list)

    def shot(self, step: str) -> None:
        """Save a screenshot of the page as ``<test>-<step>.png``."""
        folder = Path(os.environ.get("MLGATE_TEST_ARTIFACTS") or ROOT / "test-artifacts")
        folder = folder / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(folder / f"{self.test}-{step}.png"), full_page=True)


@pytest.fixture
def tab(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Tab]:
    """A fresh browser context (no cookies) whose dialogs are recorded and dismissed."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    opened = Tab(context.new_page(), request.node.name)

    def record(dialog: Dialog) -> None:
        opened.dialogs.append(dialog.message)
        dialog.dismiss()

    opened.page.on("dialog", record)
    yield opened
    context.close()


def sign_in(page: Page, live: Live, name: str) -> None:
    """Sign in through the form."""
    page.goto(f"{live.url}/")
    expect(page).to_have_url(f"{live.url}/login?next=%2F")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Portfolio")).to_be_visible()


def test_a_business_case_goes_from_submission_to_the_next_stage(tab: Tab, live: Live) -> None:
    page = tab.page
    sign_in(page, live, "dana")
    tab.shot("1-portfolio")
    page.get_by_role("link", name=PROJECT, exact=True).click()
    expect(page.get_by_role("heading", name=PROJECT, exact=True)).to_be_visible()
    page.get_by_label("File name").fill("business_case.yaml")
    page.get_by_label("Document (YAML)").fill(business_case())
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("status")).to_contain_text("Document submitted: business_case")
    expect(page.locator("#req-business_case")).to_contain_text("satisfied")
    gap = page.locator("#req-business_case_approval")
    expect(gap).to_contain_text("0 of 1 validator approval(s) of business_case")
    expect(gap).to_contain_text("a validator runs: mlgate approve business_case_approval")
    tab.shot("2-submitted")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, live, "val")
    page.get_by_role("link", name="Approvals").click()
    expect(page.locator(".waiting")).to_contain_text("A validator approves the business case")
    page.get_by_label("Comment (required)").fill("The benefit is quantified and credible.")
    tab.shot("3-inbox")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("Approval recorded")
    expect(page.locator("#nothing-waiting")).to_be_visible()

    page.goto(f"{live.url}/projects/{PROJECT}")
    page.get_by_role("button", name="Advance to the next stage").click()
    expect(page.get_by_role("status")).to_contain_text("now in kickoff")
    expect(page.locator("li[aria-current=step]")).to_have_text("2. Kickoff")
    tab.shot("4-advanced")

    page.get_by_role("link", name="Audit trail", exact=True).click()
    expect(page.locator("#verification")).to_contain_text("Verification OK")
    approval = page.locator("#events tr", has_text="approval.approve")
    expect(approval).to_contain_text("val")
    expect(approval).to_contain_text("The benefit is quantified and credible.")
    expect(page.locator("#events tr", has_text="stage.advanced")).to_contain_text("kickoff")
    tab.shot("5-audit")
    assert tab.dialogs == []


def test_html_in_names_and_documents_shows_as_text(tab: Tab, live: Live) -> None:
    page = tab.page
    gov = make_project(
        server_settings(live.home), live.store, HOSTILE, "dana", {"val": "validator"}
    )
    case = gov.workspace.root / "uploads" / "case.yaml"
    case.write_text(business_case(f"Scoring {HOSTILE} <script>alert(2)</script>"), "utf-8")
    evidence = submit_document(gov, case)
    sign_in(page, live, "dana")
    link = page.get_by_role("link", name=HOSTILE, exact=True)
    expect(link).to_be_visible()
    tab.shot("1-portfolio")
    link.click()
    expect(page.locator("h1")).to_have_text(HOSTILE)
    page.get_by_role("link", name=f"evidence {evidence.id}", exact=True).click()
    expect(page.locator("#document")).to_contain_text(
        f"Scoring {HOSTILE} <script>alert(2)</script>"
    )
    assert page.locator("#document img, #document script").count() == 0
    tab.shot("2-evidence")
    assert tab.dialogs == []
