"""Annotation pages and the console's JSON endpoints. Thin: authorize
(annotations.access), check, do (annotations.services), render.

Every view checks access itself; JSON endpoints answer errors as JSON
(401 anonymous, 403 no permission, 404 not yours or missing, 400/409 bad
input or a closed assignment). Writes are POST and CSRF-checked by the
middleware (the console sends the token in X-CSRFToken).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from annotations import services
from annotations.access import check_access, check_own_assignment, check_reviewer, is_annotator, is_reviewer
from annotations.console import annotate_config, review_config
from annotations.filters import describe
from annotations.finals import disputed_episode_labels, disputed_steps, episode_work
from annotations.forms import AssignForm, QueueForm
from annotations.models import Assignment, Queue, QueueItem
from annotations.replay import step_window
from annotations.reports import queue_agreement
from annotations.services import AnnotationError
from annotations.taxonomy import load_taxonomy
from balrogweb.errors import REFUSALS, login_then, refusal_response
from games.executor import run_blocking
from games.models import Episode
from ops.methods import json_methods

View = Callable[..., HttpResponseBase]
PREVIEW_ROWS = 20


def page(check: Callable[[Any], None] = check_access) -> Callable[[View], View]:
    """Anonymous visitors go to the login page; others need ``check`` to pass (else 403)."""
    return login_then(check)


def json_errors(call: Callable[[], HttpResponseBase], user: Any) -> HttpResponseBase:
    """Run an endpoint body, answering every refusal as JSON."""
    if not user.is_authenticated:
        return JsonResponse({"error": "log in first"}, status=401)
    try:
        return call()
    except REFUSALS as exc:
        return refusal_response(exc)


def _json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise AnnotationError("the body is not JSON") from None


def _window_args(request: HttpRequest) -> tuple[int, int]:
    try:
        return int(request.GET.get("start", "0")), int(request.GET.get("count", "50"))
    except ValueError:
        raise AnnotationError("start and count must be integers") from None


# ----- home ---------------------------------------------------------------------------------
@require_safe
@page()
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {"is_annotator": is_annotator(user), "is_reviewer": is_reviewer(user)}
    if context["is_annotator"]:
        mine = services.my_assignments(user).order_by("status", "item__queue_id", "item__position")
        context["todo"] = [a for a in mine if not a.is_submitted]
        context["done"] = [a for a in mine if a.is_submitted][:200]
    if context["is_reviewer"]:
        submitted = Count("items__assignments", filter=Q(items__assignments__status=Assignment.Status.SUBMITTED))
        context["queues"] = Queue.objects.annotate(
            n_items=Count("items", distinct=True), n_assigned=Count("items__assignments"), n_submitted=submitted
        )[:100]
    return render(request, "annotations/home.html", context)


# ----- queues (reviewers) ---------------------------------------------------------------------
@require_http_methods(["GET", "HEAD", "POST"])
@page(check_reviewer)
def queue_new(request: HttpRequest) -> HttpResponse:
    form = QueueForm(request.POST or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        try:
            if "preview" in request.POST:
                candidates = services.candidate_episodes(form.spec())
                preview = {"count": candidates.count(), "rows": list(candidates[:PREVIEW_ROWS])}
            else:
                queue = services.do_create_queue(form.spec(), request.user)
                messages.success(request, f"Queue created with {queue.items.count()} episodes: now assign it.")
                return redirect("annotations:queue", queue.pk)
        except AnnotationError as exc:
            form.add_error(None, exc.message)
    return render(request, "annotations/queue_new.html", {"form": form, "preview": preview})


@require_safe
@page(check_reviewer)
def queue_detail(request: HttpRequest, pk: int) -> HttpResponse:
    queue = get_object_or_404(Queue, pk=pk)
    items = queue.items.select_related("episode").prefetch_related("assignments__annotator")
    context = {"queue": queue, "filters": describe(queue.filters), "items": items, "assign_form": AssignForm()}
    return render(request, "annotations/queue.html", context)


@require_POST
@page(check_reviewer)
def queue_assign(request: HttpRequest, pk: int) -> HttpResponse:
    queue = get_object_or_404(Queue, pk=pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose at least one annotator.")
        return redirect("annotations:queue", pk)
    try:
        created = services.do_assign(queue, list(form.cleaned_data["annotators"]))
    except AnnotationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{created} assignments created.")
    return redirect("annotations:queue", pk)


@require_POST
@page(check_reviewer)
def assignment_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = get_object_or_404(Assignment.objects.select_related("item"), pk=pk)
    try:
        services.do_reopen(assignment)
    except AnnotationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Assignment {pk} is open again for {assignment.annotator}.")
    return redirect("annotations:queue", assignment.item.queue_id)


@require_safe
@page(check_reviewer)
def queue_agreement_page(request: HttpRequest, pk: int) -> HttpResponse:
    queue = get_object_or_404(Queue, pk=pk)
    return render(request, "annotations/agreement.html", {"queue": queue, "figures": queue_agreement(queue)})


@require_safe
@page(check_reviewer)
def queue_disagreements(request: HttpRequest, pk: int) -> HttpResponse:
    queue = get_object_or_404(Queue, pk=pk)
    items = list(queue.items.select_related("episode"))
    works = episode_work([item.episode_id for item in items])
    codes = [label.code for label in load_taxonomy().episode]
    rows = []
    for item in items:
        work = works[item.episode_id]
        steps = disputed_steps(work)
        labels = disputed_episode_labels(work, codes)
        if steps or labels:
            rows.append({"item": item, "work": work, "steps": len(steps), "labels": labels})
    return render(request, "annotations/disagreements.html", {"queue": queue, "rows": rows})


# ----- the annotate console (the assignment's annotator only) ------------------------------------------
@require_safe
@page()
def console(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = check_own_assignment(request.user, pk)
    config = annotate_config(request, assignment, load_taxonomy())
    context = {"assignment": assignment, "episode": assignment.item.episode, "config": config}
    return render(request, "annotations/console.html", context)


async def steps_endpoint(request: HttpRequest, find_episode: Callable[[Any], Episode]) -> HttpResponseBase:
    """A window of steps by replay. Authorized first (quick, Django's thread
    for sync code); the replay runs in browser play's bounded step pool, so a
    long replay holds neither the event loop nor that one shared thread."""
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"error": "log in first"}, status=401)
    try:
        episode = await sync_to_async(find_episode)(user)
        start, count = _window_args(request)
    except REFUSALS as exc:
        return refusal_response(exc)
    return await run_blocking(json_errors, lambda: JsonResponse(step_window(episode, start, count)), user)


@json_methods("GET")
async def assignment_steps(request: HttpRequest, pk: int) -> HttpResponseBase:
    return await steps_endpoint(request, lambda user: check_own_assignment(user, pk).item.episode)


@json_methods("POST")
def assignment_save(request: HttpRequest, pk: int) -> HttpResponseBase:
    def call() -> HttpResponseBase:
        assignment = check_own_assignment(request.user, pk)
        taxonomy = load_taxonomy()
        patch = services.check_save(assignment, _json_body(request), taxonomy)
        services.do_save(assignment, patch, taxonomy)
        return JsonResponse({"ok": True, "steps": len(patch.steps)})

    return json_errors(call, request.user)


@json_methods("POST")
def assignment_submit(request: HttpRequest, pk: int) -> HttpResponseBase:
    def call() -> HttpResponseBase:
        assignment = check_own_assignment(request.user, pk)
        services.check_submit(assignment, load_taxonomy())
        services.do_submit(assignment)
        return JsonResponse({"ok": True, "next": _next_assignment_url(request.user)})

    return json_errors(call, request.user)


def _next_assignment_url(user: Any) -> str | None:
    pending = services.my_assignments(user).exclude(status=Assignment.Status.SUBMITTED)
    following = pending.order_by("item__queue_id", "item__position").first()
    return None if following is None else reverse("annotations:console", args=[following.pk])


# ----- the review console (reviewers) -----------------------------------------------------------------
def _queued_episode(pk: int) -> Episode:
    if not QueueItem.objects.filter(episode_id=pk).exists():
        raise Http404("this episode is in no annotation queue")
    return get_object_or_404(Episode, pk=pk)


@require_safe
@page(check_reviewer)
def review(request: HttpRequest, pk: int) -> HttpResponse:
    episode = _queued_episode(pk)
    config = review_config(request, episode, load_taxonomy())
    return render(request, "annotations/console.html", {"episode": episode, "config": config, "review": True})


def _reviewable_episode(user: Any, pk: int) -> Episode:
    check_reviewer(user)
    return _queued_episode(pk)


@json_methods("GET")
async def review_steps(request: HttpRequest, pk: int) -> HttpResponseBase:
    return await steps_endpoint(request, lambda user: _reviewable_episode(user, pk))


@json_methods("POST")
def review_save(request: HttpRequest, pk: int) -> HttpResponseBase:
    def call() -> HttpResponseBase:
        check_reviewer(request.user)
        episode = _queued_episode(pk)
        taxonomy = load_taxonomy()
        patch = services.check_review(episode, _json_body(request), taxonomy)
        services.do_review(episode, patch, request.user, taxonomy)
        return JsonResponse({"ok": True})

    return json_errors(call, request.user)
