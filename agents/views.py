"""Pages of model episodes and evaluation runs. Thin: read, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from agents import pages
from agents.evaluation import RunError, do_cancel_run, do_resume_run, do_start_run, ensure_local_sweep
from agents.forms import NewRunForm
from agents.models import EvaluationRun, ModelEndpoint
from agents.publishing import PublishError, can_publish_runs, check_publish_runs, do_set_published
from agents.sent import NoPrompt, message_images, message_text, sent_prompt
from agents.services import can_manage_runs, check_manage_runs
from balrogweb.errors import login_then
from games import catalogue
from games.base import TaskInfo
from games.services import check_task
from ops.methods import json_methods

# Anonymous visitors go to the login page; logged-in users without the permission get 403.
run_manager_required = login_then(check_manage_runs)


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    ensure_local_sweep()
    context = {
        "running": pages.running_model_episodes(),
        "runs": pages.recent_runs(),
        "endpoints": ModelEndpoint.objects.order_by("name"),
        "can_manage": can_manage_runs(request.user),
    }
    return render(request, "agents/index.html", context)


@run_manager_required
@require_http_methods(["GET", "HEAD", "POST"])
def new_run(request: HttpRequest) -> HttpResponse:
    form = NewRunForm(request.POST or None, initial={"endpoint": request.GET.get("endpoint")})
    if request.method == "POST" and form.is_valid():
        try:
            run = do_start_run(form.request(request.user))
        except RunError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("agents:run", run.pk)
    return render(request, "agents/new_run.html", {"form": form})


@require_safe
def run_page(request: HttpRequest, pk: int) -> HttpResponse:
    ensure_local_sweep()
    run = get_object_or_404(EvaluationRun.objects.select_related("endpoint"), pk=pk)
    context = {
        **pages.run_page_data(run),
        "progress_url": reverse("agents:run_progress", args=[pk]),
        "can_manage": can_manage_runs(request.user),
        "can_publish": can_publish_runs(request.user),
    }
    return render(request, "agents/run.html", context)


@json_methods("GET")
def run_progress(request: HttpRequest, pk: int) -> JsonResponse:
    run = get_object_or_404(EvaluationRun.objects.select_related("endpoint"), pk=pk)
    return JsonResponse(pages.progress_json(run))


@run_manager_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        do_cancel_run(pk)
    except (RunError, EvaluationRun.DoesNotExist) as exc:
        messages.error(request, str(exc))
    return redirect("agents:run", pk)


@run_manager_required
@require_POST
def resume(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        count = do_resume_run(pk)
    except (RunError, EvaluationRun.DoesNotExist) as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"Resumed: {count} episodes to play.")
    return redirect("agents:run", pk)


@require_safe
def episode_page(request: HttpRequest, episode_id: int) -> HttpResponse:
    slot = pages.model_episode(episode_id)
    if slot is None or slot.episode is None:
        raise Http404("no model episode with this number")
    episode = slot.episode
    client = {
        "episode": episode.pk,
        "env": episode.env,
        "renderer": catalogue.renderer(episode.env),
        "socket": f"/ws/episodes/{episode.pk}/",  # the play app's consumer: viewers get snapshots and steps
        "turns": reverse("agents:turns", args=[episode.pk]),
        "replay": reverse("play:replay", args=[episode.pk]),
        "assets": static("crafter/"),
        "replayable": episode.replayable,
    }
    context = {
        "slot": slot,
        "episode": episode,
        "info": _task_info(episode.env, episode.task),
        "client": client,
        "prompt_steps": _prompt_steps(episode.steps),
    }
    return render(request, "agents/episode.html", context)


def _prompt_steps(steps: int) -> list[int]:
    """Direct links to the messages of the first steps and the last one (the turns list links each)."""
    if steps <= 0:
        return []
    return sorted({*range(min(steps, 3)), steps - 1})


@json_methods("GET")
def turns(request: HttpRequest, episode_id: int) -> JsonResponse:
    slot = pages.model_episode(episode_id)
    if slot is None or slot.episode is None:
        return JsonResponse({"error": "no model episode with this number"}, status=404)
    try:
        since = max(0, int(request.GET.get("since", "0")))
    except ValueError:
        return JsonResponse({"error": "since must be an integer"}, status=400)
    return JsonResponse(pages.turns_json(slot, since))


@require_safe
def prompt_page(request: HttpRequest, episode_id: int, index: int) -> HttpResponse:
    """The exact messages the model was sent at one step (rebuilt from the log, digest-checked)."""
    try:
        prompt = sent_prompt(episode_id, index)
    except NoPrompt as exc:
        raise Http404(str(exc)) from None
    messages_shown = [
        {"role": m["role"], "text": message_text(m), "images": message_images(m)} for m in prompt.messages
    ]
    steps = prompt.slot.episode.steps if prompt.slot.episode else 0
    context = {
        "prompt": prompt,
        "messages_shown": messages_shown,
        "previous": index - 1 if index > 0 else None,
        "next": index + 1 if index + 1 < steps else None,
    }
    return render(request, "agents/prompt.html", context)


@json_methods("GET")
def prompt_json(request: HttpRequest, episode_id: int, index: int) -> JsonResponse:
    try:
        prompt = sent_prompt(episode_id, index)
    except NoPrompt as exc:
        return JsonResponse({"error": str(exc)}, status=404)
    return JsonResponse(prompt.to_json(), json_dumps_params={"ensure_ascii": False})


def _task_info(env: str, task: str) -> TaskInfo | None:
    try:
        return check_task(env, task)
    except Exception:
        return None


@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    """Publish (published=1) or unpublish (published=0) a run on the public leaderboard."""
    if not request.user.is_authenticated:
        return redirect_to_login(reverse("agents:run", args=[pk]))
    check_publish_runs(request.user)
    published = request.POST.get("published") == "1"
    try:
        do_set_published(pk, published)
    except (PublishError, EvaluationRun.DoesNotExist) as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, "Published on the leaderboard." if published else "Taken off the leaderboard.")
    return redirect("agents:run", pk)
