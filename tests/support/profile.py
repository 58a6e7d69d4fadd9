"""Running a test under another deployment profile than the one the suite
started with (CI runs both: embedded, and PostgreSQL + Redis).

Product code asks ``settings.PROFILE`` its configuration questions, and
Celery obeys the settings derived from it; ``use_profile`` changes the two
together, so code and Celery never disagree (tests/test_profile_rules.py
holds that no other test sets them). The database connection and the channel
layer are live objects built at start-up, and code asks them directly
(balrogweb.profile.is_postgresql, channels_in_process): they stay as they
are; a test that needs another channel layer overrides CHANNEL_LAYERS itself.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from balrogweb.profile import DeploymentProfile


def use_profile(settings: Any, *, redis_url: str) -> DeploymentProfile:
    """The rest of the test sees the suite's profile with this Redis URL:
    ``""`` runs tasks in this process (the local runner, eager Celery), a
    Redis URL sends them to its broker and adds shared metrics up there.
    The database half stays (the test's connections were made from it).
    pytest-django's ``settings`` fixture undoes it after the test."""
    profile = dataclasses.replace(settings.PROFILE, redis_url=redis_url)
    settings.PROFILE = profile
    # As balrogweb/settings.py derives them from the profile.
    settings.CELERY_TASK_ALWAYS_EAGER = profile.tasks_in_process
    settings.CELERY_BROKER_URL = profile.broker_url
    return profile
