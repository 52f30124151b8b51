"""The strict Content-Security-Policy in a real browser: the API's
documentation (the only page with an inline block, allowed by its hash)
draws itself, and neither it nor the signer's login page trips the policy."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Page


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


def test_the_api_documentation_draws_under_the_policy(page: Page) -> None:
    violations = policy_violations(page, "/docs")

    assert violations == []
    title = page.locator(".swagger-ui .info .title")
    title.wait_for()
    assert "Pixel Sceau" in title.inner_text()


def test_the_signer_login_page_trips_nothing(page: Page) -> None:
    assert policy_violations(page, "/signer/connexion") == []
