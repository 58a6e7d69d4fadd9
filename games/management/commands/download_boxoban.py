"""Install DeepMind's official Boxoban level set for MiniHack's Boxoban tasks.

    python manage.py download_boxoban                 # fetch the archive from GitHub
    python manage.py download_boxoban --archive FILE  # install a zip fetched elsewhere

The level files land in ``BALROG_GAME_DATA_DIR/boxoban/official/`` with the
repository's layout (``medium/train/000.txt``, ``hard/000.txt``, ...); the
adapter plays them with the option ``level_source="official"``. Without
access to GitHub the command fails with a message and changes nothing; the
generated level set (the default) does not need it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from games.nethack import boxoban


class Command(BaseCommand):
    help = "Download (or install from a zip) the official Boxoban levels for MiniHack's Boxoban tasks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default=boxoban.OFFICIAL_ARCHIVE_URL, help="archive to download")
        parser.add_argument("--archive", type=Path, help="install this local zip instead of downloading")
        parser.add_argument("--timeout", type=float, default=60.0, help="download timeout in seconds")

    def handle(self, *args: Any, **options: Any) -> None:
        with tempfile.TemporaryDirectory(prefix="boxoban-") as scratch:
            archive = options["archive"] or self._download(options["url"], options["timeout"], Path(scratch))
            count = install_archive(archive, boxoban.data_root() / "official")
        self.stdout.write(f"installed {count} Boxoban level files into {boxoban.data_root() / 'official'}")

    def _download(self, url: str, timeout: float, scratch: Path) -> Path:
        target = scratch / "boxoban-levels.zip"
        self.stdout.write(f"downloading {url} ...")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, target.open("wb") as out:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            raise CommandError(
                f"could not download the Boxoban levels from {url}: {error}. The generated level set "
                "(the default) works offline; to use the official set, fetch the zip on a machine with "
                "GitHub access and run `manage.py download_boxoban --archive FILE`."
            ) from error
        return target


def install_archive(archive: Path, destination: Path) -> int:
    """Copy the ``NNN.txt`` level files of a boxoban-levels zip (any top folder)
    into ``destination``, replacing what was there only once all are copied."""
    try:
        bundle = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as error:
        raise CommandError(f"{archive} is not a readable zip archive: {error}") from error
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".official-", dir=destination.parent))
    try:
        count = 0
        with bundle:
            for member in bundle.namelist():
                inner = _level_path(member)
                if inner is None:
                    continue
                target = staging.joinpath(*inner.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(member) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
                count += 1
        if count == 0:
            raise CommandError(f"{archive} holds no Boxoban level files (<set>/.../NNN.txt)")
        if destination.exists():
            shutil.rmtree(destination)
        os.replace(staging, destination)
        return count
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _level_path(member: str) -> PurePosixPath | None:
    """The path below the archive's top folder of a level file, else None."""
    path = PurePosixPath(member)
    if len(path.parts) < 3 or path.suffix != ".txt" or not path.stem.isdigit() or ".." in path.parts:
        return None
    return PurePosixPath(*path.parts[1:])
