"""The strict Content-Security-Policy in a real browser: the API's
documentation (the only page with inline blocks, allowed by their hashes)
draws itself, and no page of any section (no script allowed at all there)
trips the policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Page

from sceau.verification.links import VERIFICATION_PAGE_PATH
from sceau.web.pages import CONSOLE_PREFIX, PAGE_PREFIXES, PREFIX

# One page of each section, drawn without a session.
SECTION_PAGES = {
    PREFIX: f"{PREFIX}/connexion",
    CONSOLE_PREFIX: f"{CONSOLE_PREFIX}/connexion",
    VERIFICATION_PAGE_PATH: VERIFICATION_PAGE_PATH,
}


def policy_violations(page: Page, path: str) -> list[str]:
    seen: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            seen.append(message.text)

    page.on("console", keep)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    page.remove_listener("console", keep)
    return seen


def test_every_section_has_a_page_here() -> None:
    assert set(SECTION_PAGES) == set(PAGE_PREFIXES)


def test_the_api_documentation_draws_under_the_policy(page: Page) -> None:
    violations = policy_violations(page, "/docs")

    assert violations == []
    title = page.locator(".swagger-ui .info .title")
    title.wait_for()
    assert "Pixel Sceau" in title.inner_text()


@pytest.mark.parametrize("path", sorted(SECTION_PAGES.values()))
def test_a_page_of_each_section_trips_nothing(page: Page, path: str) -> None:
    violations = policy_violations(page, path)
    styled = page.evaluate(
        "() => [...document.styleSheets].some((sheet) => sheet.cssRules.length)"
    )

    assert violations == []
    # Its style sheet loaded under the policy.
    assert styled, path
