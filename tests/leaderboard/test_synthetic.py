"""The synthetic-data command refuses anything but a benchmark database."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from agents.models import EvaluationRun

pytestmark = pytest.mark.django_db


def test_it_refuses_without_the_confirmation_flag() -> None:
    with pytest.raises(CommandError, match="i-know-this-is-synthetic"):
        call_command("synthesize_leaderboard", "--episodes", "10")
    assert not EvaluationRun.objects.exists()


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the embedded default only")
def test_it_refuses_the_embedded_default_database() -> None:
    with pytest.raises(CommandError, match="embedded default"):
        call_command("synthesize_leaderboard", "--episodes", "10", "--i-know-this-is-synthetic")
    assert not EvaluationRun.objects.exists()
