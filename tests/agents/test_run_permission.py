"""Managing evaluation runs (start, cancel, resume) needs agents.manage_evaluationrun:
annotators and reviewers are staff accounts but do not have it; a run manager
(the permission granted directly) and a superuser do. The buttons follow."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.urls import reverse

from agents.models import EvaluationRun
from agents.services import can_manage_runs
from tests.support.annotation_world import ensure_defaults

pytestmark = pytest.mark.django_db(transaction=True)

NOT_MANAGERS = ("anonymous", "player", "staffer", "annotator", "reviewer")
MANAGERS = ("manager", "root")


@pytest.fixture
def personas() -> dict[str, User | None]:
    ensure_defaults()  # the annotation groups (a transactional test's flush removes them)

    def staff_in(name: str, group: str) -> User:
        user = User.objects.create_user(name, password=f"pw-{name}-123", is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        return user

    manager = User.objects.create_user("manny", password="pw-manny-123", is_staff=True)
    manager.user_permissions.add(Permission.objects.get(codename="manage_evaluationrun"))
    return {
        "anonymous": None,
        "player": User.objects.create_user("pat", password="pw-pat-123"),
        "staffer": User.objects.create_user("stef", password="pw-stef-123", is_staff=True),
        "annotator": staff_in("annie", "annotators"),
        "reviewer": staff_in("rev", "reviewers"),
        "manager": manager,
        "root": User.objects.create_superuser("root", password="pw-root-123"),
    }


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def test_it_keeps_the_permission_out_of_the_annotation_groups() -> None:
    ensure_defaults()
    for group in ("annotators", "reviewers"):
        codenames = set(Group.objects.get(name=group).permissions.values_list("codename", flat=True))
        assert "manage_evaluationrun" not in codenames, group


def test_it_grants_run_management_to_managers_and_superusers_only(personas: dict[str, User | None]) -> None:
    from django.contrib.auth.models import AnonymousUser

    for name, user in personas.items():
        assert can_manage_runs(user or AnonymousUser()) is (name in MANAGERS), name
    inactive = personas["manager"]
    assert inactive is not None
    inactive.is_active = False
    assert not can_manage_runs(inactive)


def test_it_refuses_new_cancel_and_resume_to_everyone_without_it(
    personas: dict[str, User | None], make_endpoint, make_run
) -> None:
    run = make_run(make_endpoint("random"))
    for name in NOT_MANAGERS:
        client = client_for(personas[name])
        for method, url in (
            ("get", reverse("agents:new_run")),
            ("post", reverse("agents:new_run")),
            ("post", reverse("agents:cancel", args=[run.pk])),
            ("post", reverse("agents:resume", args=[run.pk])),
        ):
            response = getattr(client, method)(url)
            if name == "anonymous":
                assert response.status_code == 302 and "/accounts/login/" in response["Location"], (name, url)
            else:
                assert response.status_code == 403, (name, method, url)
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.RUNNING
    assert EvaluationRun.objects.count() == 1


@pytest.mark.parametrize("name", MANAGERS)
def test_it_lets_a_run_manager_cancel_and_resume(
    name: str, personas: dict[str, User | None], make_endpoint, make_run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("agents.evaluation.do_dispatch_after_commit", lambda run, ids: None)
    run = make_run(make_endpoint("random"))
    client = client_for(personas[name])
    assert client.get(reverse("agents:new_run")).status_code == 200
    client.post(reverse("agents:cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.CANCELLED
    client.post(reverse("agents:resume", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == EvaluationRun.Status.RUNNING


def test_it_shows_the_buttons_to_run_managers_only(personas: dict[str, User | None], make_endpoint, make_run) -> None:
    run = make_run(make_endpoint("random"))
    new_run, cancel = reverse("agents:new_run"), reverse("agents:cancel", args=[run.pk])
    for name, user in personas.items():
        client = client_for(user)
        index = client.get(reverse("agents:index")).content.decode()
        page = client.get(reverse("agents:run", args=[run.pk])).content.decode()
        shown = name in MANAGERS
        assert (f'href="{new_run}"' in index) is shown, name
        assert (f'action="{cancel}"' in page) is shown, name
