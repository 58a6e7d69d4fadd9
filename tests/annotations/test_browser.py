"""The annotation workflow in a real browser: Debian's Chromium driven by
Playwright against pytest-django's live server on the test database.

A reviewer builds a queue of failed model episodes and assigns it; two
annotators label the steps from the keyboard and submit; the reviewer
resolves a disagreement; agreement figures appear; the labels export as
JSONL. On the way: autosave survives a reload with the network down, and a
model answer carrying HTML and scripts shows as literal text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from annotations import services
from annotations.filters import EpisodeFilter
from annotations.models import Assignment, EpisodeValue, Label, StepLabel
from tests.support.annotation_world import XSS, make_annotation_persona, play_model_episode
from tests.support.browser import launch, playwright_sync_api
from tests.support.personas import Persona

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 20_000

playwright_api = playwright_sync_api()


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the test still
    # reads the database between browser actions, which Django would refuse.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with playwright_api.sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


class Session:
    """One persona's browser tab, logged in by session cookie."""

    def __init__(self, browser: Any, base_url: str, persona: Persona) -> None:
        client = Client()
        client.force_login(persona.user)
        self.context = browser.new_context(viewport={"width": 1500, "height": 1000}, base_url=base_url)
        self.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}])
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open_console(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector("body[data-console-ready='1']")

    def press(self, *keys: str) -> None:
        for key in keys:
            self.page.keyboard.press(key)

    def at_step(self, index: int) -> None:
        self.page.wait_for_selector(f"#stage[data-step='{index}']")

    def pressed(self, code: str) -> bool:
        return bool(self.page.get_attribute(f"#step-labels [data-code='{code}']", "aria-pressed") == "true")

    def wait_saved(self) -> None:
        self.page.wait_for_selector("#save-status[data-kind='saved']")

    def close(self) -> None:
        self.context.close()
        assert not self.errors, f"JavaScript errors: {self.errors}"
        assert not self.dialogs, f"dialogs fired: {self.dialogs}"


def label_episode_a(s: Session, flags: list[str], picks: dict[str, str]) -> None:
    """Step 1 gets flags[0], the first invalid-or-repeated step after it gets
    flags[1:] and a note; then the episode labels by key and number."""
    s.press("j")
    s.at_step(1)
    s.press(flags[0])
    s.press("n")
    s.at_step(2)
    assert "invalid answer" in (s.page.text_content("#cues") or "")
    s.press(*flags[1:])
    s.press("c")
    s.page.keyboard.type("answered 'fly away': <b>not</b> an action")
    s.press("Escape")
    for hotkey, number in picks.items():
        s.press(hotkey)
        s.page.wait_for_selector("#picker:not([hidden])")
        s.press(number)
        s.page.wait_for_selector("#picker", state="hidden")


def submit(s: Session) -> None:
    s.press("Control+Enter")
    s.page.wait_for_selector("#save-status[data-kind='submitted']")


def test_it_runs_the_annotation_workflow_from_the_keyboard(browser: Any, live_server: Any) -> None:
    rita = make_annotation_persona("rita", ["reviewers"])
    anna = make_annotation_persona("anna", ["annotators"])
    bob = make_annotation_persona("bob", ["annotators"])
    a = play_model_episode(1, ["turn left", "turn left", "I think\nfly away", "go forward", XSS, "turn right"])
    b = play_model_episode(3, ["turn right", "turn left", "turn right", "turn left"])
    base = live_server.url

    # ----- the reviewer builds a queue of failed model episodes and assigns it
    r = Session(browser, base, rita)
    r.page.goto("/annotations/queues/new/")
    r.page.fill("input[name=name]", "failed babyai")
    r.page.select_option("select[name=player_kind]", "model")
    r.page.select_option("select[name=outcome]", "failed")
    r.page.fill("input[name=overlap]", "2")
    r.page.click("button[name=create]")
    r.page.wait_for_url("**/annotations/queues/*/")
    r.page.check(f"input[name=annotators][value='{anna.user.pk}']")
    r.page.check(f"input[name=annotators][value='{bob.user.pk}']")
    r.page.click("#assign button[type=submit]")
    r.page.wait_for_selector(".messages li")
    assert Assignment.objects.count() == 4

    # ----- anna labels from the keyboard; the XSS answer stays text
    s = Session(browser, base, anna)
    s.page.goto("/annotations/")
    s.page.click("tr[data-assignment] a >> nth=0")
    s.page.wait_for_selector("body[data-console-ready='1']")
    label_episode_a(s, ["2", "f", "m"], {"F": "3", "S": "3", "Q": "2"})
    assert s.pressed("invalid-format") and s.pressed("spatial-error")
    s.press("n", "n")  # 3 (repeated), then 4: the XSS answer, invalid and repeated
    s.at_step(4)
    assert s.page.text_content("#raw-output") == XSS
    assert s.page.locator("#raw-output img, #raw-output script").count() == 0
    s.wait_saved()

    # Reload: the server has it all.
    s.open_console(s.page.url)
    s.at_step(4)  # resumes where anna was
    s.press("Home")
    s.at_step(0)
    s.press("j", "j")
    s.at_step(2)
    assert s.pressed("invalid-format") and not s.pressed("good-move")
    assert s.page.input_value("#step-note") == "answered 'fly away': <b>not</b> an action"
    assert s.page.input_value("#episode-labels select[data-code='quality']") == "2"

    # Offline: the change waits in the browser, survives a reload, then reaches the server.
    s.page.route("**/save/", lambda route: route.abort())
    s.press("g")
    s.page.wait_for_selector("#save-status[data-kind='offline']")
    s.page.unroute("**/save/")
    assignment = Assignment.objects.get(annotator=anna.user, item__episode=a)
    assert not StepLabel.objects.filter(assignment=assignment, label__code="good-move").exists()
    s.open_console(s.page.url)
    s.wait_saved()
    s.at_step(2)
    assert s.pressed("good-move")
    assert StepLabel.objects.filter(assignment=assignment, index=2, label__code="good-move").exists()
    s.press("g")  # and off again
    s.wait_saved()
    submit(s)
    # The next assignment (episode b) opens by itself.
    annas_b = Assignment.objects.get(annotator=anna.user, item__episode=b)
    s.page.wait_for_url(f"**/annotations/assignments/{annas_b.pk}/")
    s.page.wait_for_selector("body[data-console-ready='1']")
    s.press("n")
    s.at_step(3)  # right, left, right, left: no invalid or repeated step: stays
    s.press("End", "k")
    s.at_step(3)
    s.press("l")
    for hotkey, number in {"F": "3", "S": "3", "Q": "1"}.items():
        s.press(hotkey, number)
    submit(s)
    s.close()

    # ----- bob disagrees on one step flag and the rating
    s = Session(browser, base, bob)
    s.open_console(f"/annotations/assignments/{Assignment.objects.get(annotator=bob.user, item__episode=a).pk}/")
    label_episode_a(s, ["2", "f"], {"F": "3", "S": "3", "Q": "3"})
    s.wait_saved()
    submit(s)
    s.page.wait_for_url("**/assignments/*/")
    s.open_console(f"/annotations/assignments/{Assignment.objects.get(annotator=bob.user, item__episode=b).pk}/")
    s.press("End", "k", "l", "F", "3", "S", "3", "Q", "1")
    submit(s)
    s.close()

    # ----- the reviewer resolves the disagreement and sees the agreement figures
    r.page.goto(f"/annotations/queues/{Assignment.objects.first().item.queue_id}/disagreements/")  # type: ignore[union-attr]
    r.page.click(f"tr[data-episode='{a.pk}'] a")
    r.page.wait_for_selector("body[data-console-ready='1']")
    r.press("n")
    r.page.wait_for_selector("#stage[data-step='2']")
    assert "flagged by anna" in (r.page.text_content("#step-labels") or "")
    r.press("m")  # spatial error: yes, final
    r.press("Q", "2")
    r.page.wait_for_selector("#save-status[data-kind='saved']")
    assert services.final_step_labels([a.pk])[a.pk][2] == ["invalid-format", "spatial-error"]
    assert services.final_episode_labels([a.pk])[a.pk]["quality"].value == "2"
    assert services.final_episode_labels([b.pk])[b.pk]["failure-reason"].value == "action-loop"

    r.page.goto(f"/annotations/queues/{Assignment.objects.first().item.queue_id}/agreement/")  # type: ignore[union-attr]
    assert r.page.text_content("tr[data-label='repeated-loop'] [data-figure='alpha']") == "1.000"
    assert r.page.text_content("tr[data-label='spatial-error'] [data-figure='alpha']") not in ("", "n/a")

    # ----- the labels export as JSONL
    response = r.page.request.get("/annotations/export/annotations.jsonl?labelled=on")
    records = [json.loads(line) for line in response.text().splitlines()]
    assert [rec["episode"]["id"] for rec in records] == [a.pk, b.pk]
    assert [x["annotator"] for x in records[0]["annotators"]] == ["anna", "bob"]
    assert records[0]["final"]["quality"] == {"value": "2", "source": "reviewer", "annotators": 2}
    assert records[0]["steps"][4]["raw_input"] == XSS
    assert records[0]["steps"][2]["final_labels"] == ["invalid-format", "spatial-error"]
    r.close()


def test_it_reaches_every_choice_of_an_episode_label_with_one_key(browser: Any, live_server: Any) -> None:
    """The default failure reasons are ten: 1-9 and 0 each pick one, shown beside it; Backspace clears."""
    rita = make_annotation_persona("rita", ["reviewers"])
    anna = make_annotation_persona("anna", ["annotators"])
    play_model_episode(1, ["turn left", "turn right"])
    queue = services.do_create_queue(
        services.QueueSpec("keys", "", EpisodeFilter(player_kind="model"), overlap=1, limit=1), rita.user
    )
    services.do_assign(queue, [anna.user])
    assignment = Assignment.objects.get(annotator=anna.user)
    failure = Label.objects.get(code="failure-reason")
    choices = [option.code for option in failure.options.all()]
    assert len(choices) == 10

    s = Session(browser, live_server.url, anna)
    s.open_console(f"/annotations/assignments/{assignment.pk}/")
    select = "#episode-labels select[data-code='failure-reason']"
    s.press("F")
    s.page.wait_for_selector("#picker:not([hidden])")
    shown = s.page.locator("#picker-options li kbd").all_inner_texts()
    assert shown == [*"1234567890"]
    s.press("Escape")
    for key, choice in zip("1234567890", choices, strict=True):
        s.press("F", key)
        s.page.wait_for_selector("#picker", state="hidden")
        assert s.page.input_value(select) == choice
        assert s.page.locator(f"{select} option:checked").inner_text().startswith(f"{key}. ")
    s.wait_saved()
    saved = EpisodeValue.objects.get(assignment=assignment, label=failure)
    assert saved.value == choices[9] == "other"
    s.press("F", "Backspace")
    s.page.wait_for_selector("#picker", state="hidden")
    assert s.page.input_value(select) == ""
    s.wait_saved()
    assert not EpisodeValue.objects.filter(assignment=assignment, label=failure).exclude(value="").exists()
    s.close()


def nethack_model_episode() -> Any:
    from games.base import EndReason
    from games.models import Episode
    from games.services import do_apply_action, do_end_episode, do_start_episode

    episode = do_start_episode(env="nle", task="NetHackChallenge-v0", seed=5, player_kind="model", agent="m")
    for index, action in enumerate(["north", "east", "search"]):
        do_apply_action(episode.pk, index=index, action=action, raw_input=action)
    do_end_episode(episode.pk, reason=EndReason.ABANDONED, detail="test: stopped")
    return Episode.objects.get(pk=episode.pk)


def test_it_shows_the_whole_nethack_terminal_beside_the_steps_on_a_laptop(browser: Any, live_server: Any) -> None:
    from annotations.models import Queue, QueueItem

    anna = make_annotation_persona("anna", ["annotators"])
    queue = Queue.objects.create(name="nethack", overlap=1)
    item = QueueItem.objects.create(queue=queue, episode=nethack_model_episode(), position=0)
    assignment = Assignment.objects.create(item=item, annotator=anna.user)
    s = Session(browser, live_server.url, anna)
    s.page.set_viewport_size({"width": 1366, "height": 768})
    s.open_console(f"/annotations/assignments/{assignment.pk}/")
    s.page.wait_for_selector("#stage .terminal .term-line")
    fit = s.page.evaluate(
        """() => {
          const stage = document.getElementById('stage'), term = stage.querySelector('.terminal');
          const steps = document.querySelector('.ann-step-col').getBoundingClientRect();
          return {clippedX: stage.scrollWidth - stage.clientWidth, clippedY: stage.scrollHeight - stage.clientHeight,
                  termRight: term.getBoundingClientRect().right, stepsLeft: steps.left,
                  lines: term.querySelectorAll('.term-line').length};
        }"""
    )
    assert fit["lines"] == 24 and fit["clippedX"] <= 0 and fit["clippedY"] <= 0, fit
    assert fit["termRight"] <= fit["stepsLeft"], fit  # beside the step column, not under it
    s.close()
