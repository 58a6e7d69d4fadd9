"""One family of refusals (balrogweb.errors): every service's refusal carries
its code and HTTP status, and every edge answers it the same way."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from agents.evaluation import RunError
from agents.publishing import PublishError
from annotations.services import AnnotationError, AssignmentClosed
from balrogweb.errors import ServiceError, refusal_body
from games.services import EpisodeNotFound, GameError, InvalidAction
from play.protocol import ProtocolError
from play.services import Forbidden, PlayRefused, ViewerRefused


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (InvalidAction("not an action of this game"), "invalid_action", 409),
        (EpisodeNotFound("episode 9 does not exist"), "not_found", 404),
        (Forbidden("only the episode's player can abandon it"), "forbidden", 403),
        (ViewerRefused("too many viewers from your address"), "too_many_viewers", 429),
        (PlayRefused("slow down"), "refused", 409),
        (AnnotationError("the body is not JSON"), "invalid", 400),
        (AssignmentClosed("this assignment is submitted"), "closed", 409),
        (ProtocolError("bad_json", "not JSON"), "bad_json", 400),
        (RunError("no such endpoint"), "run_refused", 400),
        (PublishError("only finished runs"), "publish_refused", 400),
    ],
)
def test_it_answers_every_services_refusal_with_its_code_and_status(
    error: ServiceError, code: str, status: int
) -> None:
    assert isinstance(error, ServiceError)
    assert refusal_body(error) == ({"error": error.message, "code": code}, status)


def test_it_answers_djangos_own_refusals_alike() -> None:
    assert refusal_body(PermissionDenied("needs the reviewer permission")) == (
        {"error": "needs the reviewer permission", "code": "forbidden"},
        403,
    )
    assert refusal_body(Http404()) == ({"error": "not found", "code": "not_found"}, 404)


def test_it_keeps_a_run_error_a_value_error_for_the_command_line() -> None:
    assert isinstance(RunError("x"), ValueError) and issubclass(GameError, ServiceError)


def test_it_says_which_refusals_end_a_websocket_and_with_which_code() -> None:
    assert EpisodeNotFound("gone").websocket_close == 4404
    assert ViewerRefused("slow down").websocket_close == 4429
    # everything else is answered with an error message on a connection that stays open
    for refusal in (InvalidAction("no"), Forbidden("no"), ProtocolError("bad", "no"), AnnotationError("no")):
        assert refusal.websocket_close is None
