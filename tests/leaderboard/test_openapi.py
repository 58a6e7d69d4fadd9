"""/api/leaderboard's answers validated against its own OpenAPI document
with real validators (openapi-spec-validator for the document,
openapi-schema-validator's OAS 3.1 validator for each response)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec

from tests.support.leaderboard_data import populate

pytestmark = pytest.mark.django_db


def document(client: Client) -> dict[str, Any]:
    response = client.get("/api/leaderboard/openapi.json")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


def response_schema(client: Client, status: str = "200") -> dict[str, Any]:
    schema: dict[str, Any] = document(client)["paths"]["/api/leaderboard"]["get"]["responses"][status]["content"][
        "application/json"
    ]["schema"]
    return schema


def check(client: Client, **params: str) -> dict[str, Any]:
    response = client.get("/api/leaderboard", params)
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    validator = OAS31Validator(response_schema(client))
    errors = [f"{list(error.path)}: {error.message}" for error in validator.iter_errors(data)]
    assert errors == [], errors
    return data


def test_it_serves_a_valid_openapi_31_document(client: Client) -> None:
    data = document(client)
    validate_spec(data)  # raises on an invalid document
    assert data["openapi"] == "3.1.0"


def test_it_detects_a_response_that_breaks_the_schema(client: Client) -> None:
    """The check has teeth: a wrong type or a stray field fails it."""
    data = check(client)
    validator = OAS31Validator(response_schema(client))
    assert not validator.is_valid({**data, "tab": 3})
    assert not validator.is_valid({**data, "extra": True})


def test_it_answers_an_empty_database_by_the_schema(client: Client) -> None:
    assert check(client)["entries"] == []
    assert check(client, tab="vlm")["entries"] == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"tab": "llm"},
        {"tab": "vlm"},
        {"sort": "babyai", "dir": "asc"},
        {"sort": "name", "dir": "desc"},
        {"sort": "episodes"},
    ],
)
def test_it_answers_every_query_variant_by_the_schema(client: Client, params: dict[str, str]) -> None:
    populate()
    data = check(client, **params)
    kinds = {entry["kind"] for entry in data["entries"]}
    assert "human" in kinds and "player" in kinds  # the humans and the top players rows are validated too
    assert not {"hidden", "busy"} & {entry["name"] for entry in data["entries"]}


def test_it_answers_with_top_players_switched_off_by_the_schema(client: Client, settings: Any) -> None:
    settings.BALROG_LEADERBOARD_TOP_PLAYERS = 0
    populate()
    assert {entry["kind"] for entry in check(client)["entries"]} == {"model", "human"}


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"tab": "AAA"}, "tab"),
        ({"tab": "VLM"}, "tab"),  # enums are case-sensitive, as declared
        ({"tab": ""}, "tab"),
        ({"sort": "nonsense"}, "sort"),
        ({"tab": "vlm", "dir": "sideways"}, "dir"),
    ],
)
def test_it_refuses_a_value_outside_its_enum_with_the_allowed_values(
    client: Client, params: dict[str, str], parameter: str
) -> None:
    declared = {
        p["name"]: p["schema"]["enum"] for p in document(client)["paths"]["/api/leaderboard"]["get"]["parameters"]
    }
    for url in ("/api/leaderboard", "/leaderboard/leaderboard.csv"):
        response = client.get(url, params)
        assert response.status_code == 400, url
        data = response.json()
        assert OAS31Validator(response_schema(client, "400")).is_valid(data)
        assert (data["parameter"], data["allowed"]) == (parameter, declared[parameter])
    assert client.get("/leaderboard/", params).status_code == 200  # the page falls back to the default board


def test_it_declares_what_it_serves(client: Client) -> None:
    declared = {
        p["name"]: p["schema"]["enum"] for p in document(client)["paths"]["/api/leaderboard"]["get"]["parameters"]
    }
    for name, values in declared.items():
        for value in values:
            assert client.get("/api/leaderboard", {name: value}).status_code == 200, (name, value)
