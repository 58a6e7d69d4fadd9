"""The reference's own data, staged beside the project (never copied into it):
tests that need it skip on a clone without ``../shared``."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

SHARED_DATA = Path(settings.BASE_DIR).parent / "shared" / "data"
GOLDEN = SHARED_DATA / "balrog_oracle_golden" / "golden.jsonl.xz"
LOGS = SHARED_DATA / "balrog_reference_logs"
#: the submission CI replays in full (November 2024: the NetHack target is for it)
CI_SUBMISSION = LOGS / "20241115_naive-Qwen2.5-7B-it.tar.xz"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not staged here")
    return path
