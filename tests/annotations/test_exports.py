"""Streamed exports: bad input answered before the first byte, a later failure visible in the file."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from annotations import exports
from tests.support.pages import streamed
from tests.support.personas import Persona

pytestmark = pytest.mark.usefixtures("world")  # the queue and its exports (tests/annotations/conftest.py)
EXPORTS = ("/annotations/export/annotations.jsonl", "/annotations/export/annotations.csv")


@pytest.mark.parametrize("query", [f"run={2**63}", f"queue={2**70}", "run=abc", "outcome=nope", "steps=some"])
def test_it_refuses_a_bad_export_query_before_the_first_byte(rita: Persona, query: str) -> None:
    for url in EXPORTS:
        response = rita.client.get(f"{url}?{query}")
        assert response.status_code == 400, (url, query)
        assert not response.streaming
        message = response.json()["error"]
        assert "invalid literal" not in message and query.split("=")[0] in message


@pytest.mark.parametrize(("url", "parse"), [(EXPORTS[0], json.loads), (EXPORTS[1], lambda line: line.split(","))])
def test_it_ends_an_export_that_fails_midway_with_an_error_line_and_logs_it(
    rita: Persona, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, url: str, parse: Any
) -> None:
    real = exports.records_of

    def failing(ids: list[int], all_steps: bool = True) -> Iterator[dict[str, Any]]:
        records = real(ids, all_steps)
        yield next(records)
        raise RuntimeError("database went away")

    monkeypatch.setattr("annotations.api.records_of", failing)
    with caplog.at_level(logging.ERROR, logger="annotations.exports"):
        response = rita.client.get(url)
        lines = streamed(response).splitlines()
    assert response.status_code == 200  # the headers had gone out
    last = parse(lines[-1])
    if isinstance(last, dict):
        assert last == {exports.ERROR_KEY: "the export failed part-way: this file is incomplete"}
        assert "episode" in json.loads(lines[0])
    else:
        assert last[0] == exports.ERROR_KEY and "incomplete" in last[-1] and len(last) == len(exports.CSV_HEADER)
    assert "annotation export failed" in caplog.text


def test_it_has_no_error_line_in_a_complete_export(rita: Persona) -> None:
    for url in EXPORTS:
        assert exports.ERROR_KEY not in streamed(rita.client.get(url)), url
