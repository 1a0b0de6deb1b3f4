"""Logging in to the dashboard in a real browser: accounts, lock-out, CSRF, log-out, idleness."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta

import pytest
from dashboard_service import log_in, screenshot
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_a_user_logs_in_and_sees_who_they_are(page, dashboard):
    """The demo GP's password opens the dashboard; the header names the account and role."""
    page.goto("/etat")
    expect(page).to_have_url(re.compile(r"/connexion\?suite=/etat$"))
    screenshot(page, "connexion")
    log_in(page, dashboard, "docteur")
    expect(page.locator("header .who")).to_have_text("docteur (médecin)")


def test_a_wrong_password_is_refused_without_saying_whether_the_name_exists(
    page, dashboard
):
    """Wrong password and unknown name get the same French message and no session."""
    for name in ("docteur", "personne"):
        page.goto("/connexion")
        page.get_by_label("Identifiant").fill(name)
        page.get_by_label("Mot de passe").fill("pas le bon mot de passe")
        page.get_by_role("button", name="Se connecter").click()
        expect(page.get_by_role("alert")).to_have_text(
            "identifiant ou mot de passe incorrect"
        )
    page.goto("/etat")
    expect(page).to_have_url(re.compile(r"/connexion\?suite=/etat$"))


def test_five_failures_lock_the_account_even_for_the_right_password(page, dashboard):
    """After `login_max_failures` failures the right password is refused until the end."""
    for _ in range(5):
        page.goto("/connexion")
        page.get_by_label("Identifiant").fill("assistante")
        page.get_by_label("Mot de passe").fill("mauvais mot de passe")
        page.get_by_role("button", name="Se connecter").click()
    page.goto("/connexion")
    page.get_by_label("Identifiant").fill("assistante")
    page.get_by_label("Mot de passe").fill(dashboard.logins.passwords["assistante"])
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_contain_text("compte verrouillé")
    dashboard.clock.advance(timedelta(minutes=16))
    log_in(page, dashboard, "assistante")
    expect(page.locator("header .who")).to_contain_text("assistante")


def test_logging_out_ends_the_session(page, dashboard):
    """ "Se déconnecter" ends the session: the same cookie no longer opens a page."""
    log_in(page, dashboard)
    cookies = page.context.cookies()
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("status")).to_have_text("Vous êtes déconnecté(e).")
    page.context.add_cookies(cookies)  # even the old cookie, replayed
    page.goto("/etat")
    expect(page).to_have_url(re.compile(r"/connexion"))


def test_an_idle_session_expires_and_says_so(page, dashboard):
    """Past `session_idle_minutes` without a request, the next page asks to log in again."""
    log_in(page, dashboard)
    dashboard.clock.advance(timedelta(minutes=29))
    page.goto("/etat")
    expect(page.get_by_role("heading", name="État du service")).to_be_visible()
    dashboard.clock.advance(timedelta(minutes=31))
    page.goto("/etat")
    expect(page.get_by_role("status")).to_contain_text(
        "Session fermée après 30 minutes sans activité"
    )


def test_a_post_without_the_csrf_token_is_refused(page, dashboard):
    """A form posted without the session's token (a forged request) gets a 403, no effect."""
    log_in(page, dashboard)
    response = page.request.post(
        f"{dashboard.url}/deconnexion", form={"csrf": "forged"}
    )
    assert response.status == 403
    assert "jeton de sécurité" in response.text()
    page.goto("/etat")
    expect(page.get_by_role("heading", name="État du service")).to_be_visible()


def test_the_service_state_page_reads_the_running_service(page, dashboard):
    """ "État du service" shows the health checks and the HL7 port of the running service."""
    log_in(page, dashboard, "admin")
    page.goto("/etat")
    expect(page.get_by_text("en service").first).to_be_visible()
    expect(page.get_by_text(f"127.0.0.1:{dashboard.mllp_port}")).to_be_visible()


def test_disabling_an_account_from_the_terminal_ends_its_open_session(page, dashboard):
    """`fmt-plugin users disable` in another process: the next page asks to log in."""
    log_in(page, dashboard, "assistante")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fmt_plugin",
            "users",
            "disable",
            "assistante",
            "--config",
            str(dashboard.config),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    page.goto("/etat")
    expect(page).to_have_url(re.compile(r"/connexion\?expiree=1"))
