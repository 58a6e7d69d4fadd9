"""Screenshots of every page at phone and laptop width, on a showcase database of its own.

    python manage.py screenshots OUT [--only TEXT ...] [--widths 390,1366]

Makes a SQLite database in a temporary folder, fills it with ``play.showcase``,
serves it with ``manage.py serve`` on a free loopback port and drives Debian's
Chromium (Playwright, ``/usr/bin/chromium``). Writes ``OUT/<width>/<page>.png``
and ``OUT/pages.json``: per page and width, how far the page scrolls sideways
(0 when it fits).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops.browser import CHROMIUM, launch, log_in

HEIGHTS = {390: 844, 1366: 768}
DRAW_TIMEOUT_MS = 30_000
BUILD = "import json; from play.showcase import build; print(json.dumps(build().to_json()))"
# The widest element that sticks out of the viewport, to say what to fix.
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  let worst = null;
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && (!worst || box.right > worst.right)) {
      let inside = false;
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const style = getComputedStyle(p);
        if (style.overflowX !== 'visible' && p.getBoundingClientRect().right <= width + 1) { inside = true; break; }
      }
      const classes = el.className ? '.' + String(el.className).split(' ').join('.') : '';
      if (!inside) worst = {right: box.right, what: el.tagName.toLowerCase() + classes};
    }
  }
  return {overflow: document.documentElement.scrollWidth - width, widest: worst ? worst.what : ''};
}"""


class Command(BaseCommand):
    help = "Screenshots of every page at 390 px and 1366 px wide into a folder (Playwright + /usr/bin/chromium)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out", type=Path, help="folder for <width>/<page>.png and pages.json")
        parser.add_argument("--only", nargs="*", default=[], help="only pages whose path contains one of these")
        parser.add_argument("--widths", default="390,1366", help="comma-separated viewport widths")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:
            raise CommandError("Playwright is not installed: pip install -r requirements-dev.txt") from exc
        if not Path(CHROMIUM).exists():
            raise CommandError(f"{CHROMIUM} is missing: apt-get install chromium")
        widths = [int(width) for width in options["widths"].split(",") if width.strip()]
        out: Path = options["out"]
        with tempfile.TemporaryDirectory(prefix="balrog-screenshots-") as var_dir:
            env = showcase_env(Path(var_dir))
            self.stdout.write("screenshots: building the showcase database (a minute: it plays every game)...")
            pages = build_showcase(env)
            wanted = {
                persona: [path for path in paths if not options["only"] or any(t in path for t in options["only"])]
                for persona, paths in pages.items()
            }
            server = serve(env, Path(var_dir) / "server.log")
            try:
                with sync_playwright() as playwright:
                    browser = launch(playwright)
                    report = shoot_all(browser, server.base, wanted, widths, out, self.stdout.write)
                    browser.close()
            finally:
                server.stop()
        (out / "pages.json").write_text(json.dumps(report, indent=1))
        wide = [row for row in report if row["overflow"] > 0]
        self.stdout.write(f"screenshots: {len(report)} in {out}; {len(wide)} scroll sideways")
        for row in wide:
            self.stdout.write(f"  {row['width']} {row['path']}: {row['overflow']} px ({row['widest']})")


def showcase_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="balrogweb.settings",
        BALROG_VAR_DIR=str(var_dir),
        BALROG_GAME_DATA_DIR=str(settings.BALROG_GAME_DATA_DIR),
    )
    return env


def manage(env: dict[str, str], *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *arguments], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise CommandError(f"manage.py {arguments[0]} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def build_showcase(env: dict[str, str]) -> dict[str, list[str]]:
    manage(env, "migrate", "--noinput", "-v0")
    pages: dict[str, list[str]] = json.loads(manage(env, "shell", "-c", BUILD).strip().splitlines()[-1])["pages"]
    return pages


class Served:
    def __init__(self, process: subprocess.Popen[bytes], base: str) -> None:
        self.process, self.base = process, base

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def serve(env: dict[str, str], log: Path) -> Served:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as sink:
        process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=sink, stderr=subprocess.STDOUT)
    served = Served(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{served.base}/healthz", timeout=2):
                return served
        except OSError:
            time.sleep(0.3)
    served.stop()
    raise CommandError(f"the server did not start; see {log}")


def shoot_all(
    browser: Any, base: str, pages: dict[str, list[str]], widths: list[int], out: Path, say: Any
) -> list[dict[str, Any]]:
    from play.showcase import PASSWORD

    report: list[dict[str, Any]] = []
    for width in widths:
        (out / str(width)).mkdir(parents=True, exist_ok=True)
        for persona, paths in pages.items():
            if not paths:
                continue
            context = browser.new_context(viewport={"width": width, "height": HEIGHTS.get(width, 900)})
            page = context.new_page()
            if persona != "anonymous":
                log_in(page, base, persona, PASSWORD)
            for path in paths:
                page.goto(f"{base}{path}")
                page.wait_for_load_state("networkidle")
                wait_drawn(page)
                found = page.evaluate(OVERFLOW_JS)
                name = f"{persona}{re.sub(r'[^A-Za-z0-9]+', '-', path).rstrip('-') or '-home'}"
                page.screenshot(path=str(out / str(width) / f"{name}.png"), full_page=True)
                file = f"{width}/{name}.png"
                report.append({"width": width, "persona": persona, "path": path, "file": file, **found})
                say(f"  {width} {path} ({persona}): {'fits' if found['overflow'] <= 0 else found['overflow']}")
            context.close()
    return report


def wait_drawn(page: Any) -> None:
    """A game page draws its first frame after load (over the websocket, or replayed):
    wait for it, so the picture and the width measured are the game's."""
    if page.locator("#stage").count() == 0:
        return
    try:
        page.wait_for_selector("#stage[data-version], #stage[data-step]", timeout=DRAW_TIMEOUT_MS)
        page.wait_for_load_state("networkidle")
    except Exception:  # a page that never draws is still shot, as it is
        return
