"""A player who signs up or logs in keeps the games they played anonymously
in this browser session (they move to the account)."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from play.services import SESSION_TOKEN_KEY, do_claim_anonymous_episodes

logger = logging.getLogger(__name__)


@receiver(user_logged_in, dispatch_uid="play.claim_anonymous_episodes")
def claim_anonymous_episodes(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    moved = do_claim_anonymous_episodes(session.get(SESSION_TOKEN_KEY), user)
    if moved:
        logger.info("user %s claimed %d anonymous episodes", user.pk, moved)
