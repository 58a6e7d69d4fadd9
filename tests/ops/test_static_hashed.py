"""/static/ through ServeStatic, as the image serves it: after ``collectstatic``
with hashed names (BALROG_STATIC_HASHED=1), pages link content-hashed,
gzipped files cached for a year, whose module imports are hashed too; a fresh
clone (no manifest) serves the finders' files under their names, briefly
cached. Both with BALROG_PLAY_SERVE_STATIC's default (on)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

from tests.support.settings_files import ROOT

HASHED = {
    "STORAGES": {**settings.STORAGES, "staticfiles": {"BACKEND": "ops.static.HashedStaticFilesStorage"}},
    "SERVESTATIC_USE_MANIFEST": True,
    "SERVESTATIC_USE_FINDERS": False,
}
YEAR = 365 * 24 * 3600


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("staticfiles")
    with override_settings(STATIC_ROOT=root, **HASHED):
        call_command("collectstatic", interactive=False, verbosity=0)
        yield root


def max_age(cache_control: str) -> int:
    found = re.search(r"max-age=(\d+)", cache_control)
    return int(found.group(1)) if found else 0


def test_it_links_hashed_files_served_gzipped_and_cached_for_a_year(collected: Path) -> None:
    with override_settings(STATIC_ROOT=collected, **HASHED):
        client = Client()
        page = client.get("/").content.decode()
        css = re.search(r'href="(/static/play/css/play\.[0-9a-f]{12}\.css)"', page)
        assert css is not None, "the page links the hashed stylesheet"
        response = client.get(css.group(1), HTTP_ACCEPT_ENCODING="gzip")
        assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
        assert max_age(response["Cache-Control"]) >= YEAR and "immutable" in response["Cache-Control"]
        script = sorted((collected / "play" / "js").glob("play.*.js"))
        script = [path for path in script if re.fullmatch(r"play\.[0-9a-f]{12}\.js", path.name)]
        imports = re.findall(r'from "\./([^"]+)"', script[0].read_text())
        assert imports and all(re.search(r"\.[0-9a-f]{12}\.js$", name) for name in imports), imports
        for name in imports:
            served = client.get(f"/static/play/js/{name}")
            assert served.status_code == 200 and max_age(served["Cache-Control"]) >= YEAR, name


def test_it_links_crafters_texture_folder_unhashed(collected: Path) -> None:
    from django.templatetags.static import static

    with override_settings(STATIC_ROOT=collected, **HASHED):
        assert static("crafter/") == "/static/crafter/"
        assert Client().get("/static/crafter/grass.png").status_code == 200


def test_it_serves_a_fresh_clones_files_under_their_names_briefly_cached() -> None:
    response = Client().get("/static/play/js/socket.js")
    assert response.status_code == 200
    assert b"".join(response) == (ROOT / "static" / "play" / "js" / "socket.js").read_bytes()
    assert 0 < max_age(response["Cache-Control"]) <= 600
