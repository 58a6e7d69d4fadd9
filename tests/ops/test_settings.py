"""Production settings: check --deploy is clean with docker/.env.example, the
secret key is required, and the embedded default stays plain HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings

from tests.support.settings_files import ROOT, example_entries, example_environment, manage, settings_variables

slow = pytest.mark.slow  # subprocesses that import Django (~1 s each)


@slow
def test_it_passes_check_deploy_with_the_example_environment(tmp_path: Path) -> None:
    # The example's hosts (postgres, redis) only exist in compose; the deploy
    # checks do not connect, so the example's own URLs are used as they are.
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=example_environment(BALROG_VAR_DIR=str(tmp_path))
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@slow
def test_it_refuses_to_start_in_production_without_a_secret_key(tmp_path: Path) -> None:
    env = example_environment(BALROG_VAR_DIR=str(tmp_path))
    del env["DJANGO_SECRET_KEY"]
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@slow
def test_it_reads_the_secret_key_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("file-secret-" + "x" * 60 + "\n")
    env = example_environment(BALROG_VAR_DIR=str(tmp_path), DJANGO_SECRET_KEY_FILE=str(secret))
    del env["DJANGO_SECRET_KEY"]
    result = manage("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "file-secret-" + "x" * 60


@slow
def test_it_reports_deploy_warnings_on_the_embedded_default(tmp_path: Path) -> None:
    """The embedded default is for a laptop: check --deploy must say so, not pass silently."""
    env = {k: v for k, v in example_environment().items() if k not in settings_variables()}
    env["BALROG_VAR_DIR"] = str(tmp_path)
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stderr


@pytest.mark.django_db
def test_it_serves_plain_http_on_the_embedded_default() -> None:
    assert not settings.SECURE_SSL_REDIRECT and not settings.SESSION_COOKIE_SECURE
    response = Client().get("/healthz")
    assert response.status_code == 200


@pytest.mark.django_db
def test_it_sends_the_examples_content_security_policy_without_inline_scripts() -> None:
    policy = example_entries()["BALROG_CSP"]
    assert policy
    with override_settings(BALROG_CSP=policy):
        response = Client().get("/healthz")
    assert response["Content-Security-Policy"] == policy
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "Content-Security-Policy" not in Client().get("/healthz")  # off on the embedded default


def test_it_finds_no_inline_script_or_event_handler_in_templates_or_static() -> None:
    """The CSP forbids inline scripts: none may appear (json_script is inert data)."""
    import re

    inline_script = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.IGNORECASE)
    handler = re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE)
    javascript_url = re.compile(r"javascript:", re.IGNORECASE)
    inline_style = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)  # style-src 'self' refuses both
    offenders = []
    for path in [*(ROOT / "templates").rglob("*.html"), *ROOT.glob("*/templates/**/*.html")]:
        text = path.read_text()
        for pattern in (inline_script, handler, javascript_url, inline_style):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in pattern.finditer(text)]
    for path in (ROOT / "static").rglob("*.js"):
        text = path.read_text()
        offenders += [f"{path.relative_to(ROOT)}: eval" for _ in re.finditer(r"\beval\(|new Function\(", text)]
        styles = re.finditer(r"setAttribute\(\s*[\"']style|\sstyle=|cssText", text)
        offenders += [f"{path.relative_to(ROOT)}: inline style" for _ in styles]
    assert offenders == []


def test_it_lists_every_production_variable_with_a_value_in_the_example() -> None:
    entries = example_entries()
    assert entries["BALROG_PRODUCTION"] == "1"
    assert entries["DJANGO_DEBUG"] == "0"
    assert "*" not in (entries["DJANGO_ALLOWED_HOSTS"] or "")


@slow
def test_it_redirects_pages_to_https_but_lets_probes_use_plain_http_in_production(tmp_path: Path) -> None:
    env = example_environment(BALROG_VAR_DIR=str(tmp_path))
    host = env["DJANGO_ALLOWED_HOSTS"].split(",")[0]
    code = (
        "from django.test import Client; c = Client(); "
        f"print('healthz', c.get('/healthz', HTTP_HOST={host!r}).status_code); "
        f"r = c.get('/', HTTP_HOST={host!r}); print('home', r.status_code, r['Location']); "
        f"r = c.get('/healthz', HTTP_HOST={host!r}, HTTP_X_FORWARDED_PROTO='https'); "
        "print('hsts', r['Strict-Transport-Security']); print('csp', r['Content-Security-Policy']); "
        "print('loopback', c.get('/healthz', HTTP_HOST='127.0.0.1:8000').status_code)"
    )
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "healthz 200" in lines
    assert f"home 301 https://{host}/" in lines
    assert "hsts max-age=31536000; includeSubDomains; preload" in lines
    assert f"csp {example_entries()['BALROG_CSP']}" in lines  # the example's policy equals the default
    assert "loopback 400" in lines  # hence the probes in docker/ send the site's Host header
