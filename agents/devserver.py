"""A development model server: an OpenAI-compatible HTTP API with scripted policies.

``python manage.py dev_model_server`` serves ``POST /v1/chat/completions``
and ``GET /v1/models``; tests start it in a thread (``start_dev_server``) and
drive the real ``openai`` client against it over HTTP. The *model id* picks
the policy, optionally with latency: ``random``, ``solver@0.5``, ``flaky-429-2``.

Policies (game-aware ones read the request headers a balrogweb agent sends
to a ``dev`` endpoint: X-Balrog-Actions, the valid actions as JSON;
X-Balrog-Episode and X-Balrog-Step, which the solver uses to look the game
up in the database):

- ``random``: a valid action, uniform, fixed by (episode, step);
- ``solver``: BabyAI: minigrid's BabyAI bot on the episode's game;
  TextWorld: the game's walkthrough; other games: ``random``;
- ``drift``: ``random``, but two answers in three drift out of format
  (capitals, chatter, markdown, lower-case or unclosed markers, no marker);
- ``garbage``: never an action;
- ``hang``: never answers (the client's timeout fires);
- ``error-429``, ``error-500``: always that status;
- ``flaky-429-N``, ``flaky-500-N``, ``flaky-hang-N``: the first N attempts of
  each step fail so, then ``random``.

Answers follow the format the prompt asks for (bare, ``ACTION: x`` or
``<|ACTION|>x<|END|>``, read from the last message). Token counts are
characters / 4.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from games.jsontypes import JSONObject

logger = logging.getLogger(__name__)

POLICIES = ("random", "solver", "drift", "garbage", "hang", "error", "flaky")
HANG_SECONDS = 3600.0
MAX_BODY_BYTES = 32 * 1024 * 1024


class BadModel(ValueError):
    pass


@dataclass(frozen=True)
class Policy:
    name: str
    status: int = 0  # error / flaky: the HTTP status (0: hang)
    failures: int = 0  # flaky: failing attempts per step
    latency: float = 0.0

    @classmethod
    def parse(cls, model: str, default_latency: float = 0.0) -> Policy:
        """``random``, ``solver@0.5``, ``error-429``, ``flaky-500-2``, ``flaky-hang-1``."""
        spec, _, latency_text = model.partition("@")
        try:
            latency = float(latency_text) if latency_text else default_latency
        except ValueError:
            raise BadModel(f"bad latency in {model!r}") from None
        name, *args = spec.split("-")
        if name not in POLICIES:
            raise BadModel(f"unknown dev model {model!r}; policies: {', '.join(POLICIES)}")
        if name == "error":
            return cls(name, status=_status(args, model), latency=latency)
        if name == "flaky":
            if len(args) != 2 or not args[1].isdigit():
                raise BadModel(f"use flaky-<status|hang>-<failures>, not {model!r}")
            return cls(
                name,
                status=0 if args[0] == "hang" else _status(args[:1], model),
                failures=int(args[1]),
                latency=latency,
            )
        return cls(name, latency=latency)


def _status(args: Sequence[str], model: str) -> int:
    if len(args) != 1 or not args[0].isdigit() or not 400 <= int(args[0]) <= 599:
        raise BadModel(f"use error-<status> with a 4xx/5xx status, not {model!r}")
    return int(args[0])


@dataclass(frozen=True)
class Request:
    model: str
    messages: list[dict[str, Any]]
    actions: tuple[str, ...]
    episode: int | None
    step: int | None
    env: str


# ----- answers -------------------------------------------------------------------------------
def answer_format(messages: Sequence[dict[str, Any]]) -> str:
    """ "robust", "cot" or "bare": what the last message asks for."""
    last = _text(messages[-1]) if messages else ""
    if "<|ACTION|>" in last:
        return "robust_cot" if "step by step" in last else "robust"
    if "ACTION: <" in last:
        return "cot"
    return "bare"


def _text(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))


def formatted(action: str, style: str) -> str:
    if style == "cot":
        return f"I look at what is around me and weigh the options.\nACTION: {action}"
    if style == "robust_cot":
        return f"I look at what is around me and weigh the options.\n<|ACTION|>{action}<|END|>"
    if style == "robust":
        return f"<|ACTION|>{action}<|END|>"
    return action


def drifted(action: str, style: str, variant: int) -> str:
    """Answers that leave the format in ways a parser may or may not recover."""
    variants = [
        formatted(action, style),
        f"{action.upper()}.",
        f"I think the best move now is to {action}, because it looks promising.",
        f"**{action}**",
        f"Let me consider the state carefully.\naction: {action}",
        f"<|action|>{action}",
    ]
    return variants[variant % len(variants)]


def _rng(request: Request, salt: str = "") -> random.Random:
    return random.Random(f"{request.episode}:{request.step}:{salt}:{_messages_key(request)}")


def _messages_key(request: Request) -> str:
    if request.episode is not None:
        return ""
    return hashlib.sha256(_text(request.messages[-1]).encode()).hexdigest()[:16] if request.messages else ""


def random_action(request: Request) -> str:
    if not request.actions:
        return "wait"
    return _rng(request).choice(request.actions)


# ----- the solver's game state -----------------------------------------------------------------
@dataclass
class _Cursor:
    adapter: Any
    bot: Any = None
    version: int = 0
    answers: dict[int, str] = field(default_factory=dict)


class Solvers:
    """Games positioned at the step asked about, kept per episode. The
    BabyAI bot must see every step once, in order, so each step's suggestion
    is computed exactly once and cached. All database and env work runs on
    one thread (one database connection for the whole server)."""

    def __init__(self) -> None:
        self._cursors: dict[int, _Cursor] = {}
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="dev-model-db")

    def answer(self, episode_id: int, step: int) -> str | None:
        return self._executor.submit(self._answer, episode_id, step).result()

    def close(self) -> None:
        from django.db import connections

        self._executor.submit(connections.close_all).result()
        self._executor.shutdown(wait=True)
        for cursor in self._cursors.values():
            cursor.adapter.close()
        self._cursors.clear()

    def _answer(self, episode_id: int, step: int) -> str | None:
        cursor = self._cursors.get(episode_id)
        if cursor is None or cursor.version > step:
            cursor = self._open(episode_id)
        if cursor is None:
            return None
        if cursor.adapter.env == "textworld":
            walkthrough = cursor.adapter.walkthrough()
            return walkthrough[step] if step < len(walkthrough) else None
        self._advance(episode_id, cursor, step)
        if step not in cursor.answers:
            cursor.answers[step] = cursor.bot.next_action()
        return cursor.answers[step]

    def _open(self, episode_id: int) -> _Cursor | None:
        from games.models import Episode
        from games.registry import make_adapter

        episode = Episode.objects.filter(pk=episode_id).first()
        if episode is None or episode.env not in ("babyai", "textworld"):
            return None
        old = self._cursors.pop(episode_id, None)
        if old is not None:
            old.adapter.close()
        adapter = make_adapter(episode.env, episode.task, episode.options)
        adapter.reset(episode.seed)
        cursor = _Cursor(adapter)
        if episode.env == "babyai":
            from games.babyai.bot import BabyAIBotPolicy

            cursor.bot = BabyAIBotPolicy(adapter)  # type: ignore[arg-type]  # a BabyAIAdapter: env checked above
        self._cursors[episode_id] = cursor
        return cursor

    def _advance(self, episode_id: int, cursor: _Cursor, step: int) -> None:
        from games.models import Step

        rows = Step.objects.filter(episode_id=episode_id, index__gte=cursor.version, index__lt=step).order_by("index")
        for row in rows.values("index", "executed", "action", "valid"):
            if row["index"] not in cursor.answers:
                cursor.answers[row["index"]] = cursor.bot.next_action()
            cursor.adapter.replay(row["executed"], row["action"], row["valid"])
            cursor.version = row["index"] + 1


# ----- the server --------------------------------------------------------------------------------
class DevModelServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], default_latency: float = 0.0, models: Sequence[str] = ()) -> None:
        super().__init__(address, _Handler)
        self.default_latency = default_latency
        self.advertised = tuple(models) or ("random", "solver", "drift", "garbage", "hang", "error-429", "error-500")
        self.solvers = Solvers()
        self.stopping = threading.Event()
        self._attempts: dict[tuple[str, int | None, int | None, str], int] = {}
        self._attempts_guard = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def attempt(self, request: Request) -> int:
        """1 for the first request about this (model, episode, step, prompt), 2 for the next..."""
        key = (request.model, request.episode, request.step, _messages_key(request))
        with self._attempts_guard:
            self._attempts[key] = self._attempts.get(key, 0) + 1
            return self._attempts[key]

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self.solvers.close()

    def reply(self, request: Request, policy: Policy) -> tuple[int, str | None]:
        """(HTTP status, answer text); status 0 means hang."""
        if policy.name == "error":
            return policy.status, None
        if policy.name == "hang":
            return 0, None
        if policy.name == "flaky" and self.attempt(request) <= policy.failures:
            return policy.status, None
        style = answer_format(request.messages)
        if policy.name == "garbage":
            return 200, _rng(request, "garbage").choice(["", "...", '{"oops": true}', "Lorem ipsum dolor sit amet."])
        action = random_action(request)
        if policy.name == "solver" and request.episode is not None and request.step is not None:
            action = self.solvers.answer(request.episode, request.step) or action
        if policy.name == "drift":
            variant = _rng(request, "drift").randrange(9)
            return 200, formatted(action, style) if variant >= 6 else drifted(action, style, variant)
        return 200, formatted(action, style)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
    # algorithm and the client's delayed ACK add ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: DevModelServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("dev model server: " + format, *args)

    def do_GET(self) -> None:
        if self.path.rstrip("/") != "/v1/models":
            self._json(404, _error("not found", "invalid_request_error"))
            return
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "balrogweb-dev"}
            for name in self.server.advertised
        ]
        self._json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, _error("not found", "invalid_request_error"))
            return
        try:
            request = self._request()
            policy = Policy.parse(request.model, self.server.default_latency)
        except (BadModel, ValueError) as exc:
            self._json(400 if not isinstance(exc, BadModel) else 404, _error(str(exc), "invalid_request_error"))
            return
        if policy.latency:
            time.sleep(policy.latency)
        status, text = self.server.reply(request, policy)
        if status == 0:
            self.server.stopping.wait(HANG_SECONDS)
            self.close_connection = True
            return
        if status != 200:
            self._json(
                status, _error(f"dev server policy {request.model}", "server_error" if status >= 500 else "rate_limit")
            )
            return
        self._json(200, _completion(request, text or ""))

    def _request(self) -> Request:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY_BYTES:
            raise ValueError("missing or oversized body")
        body = json.loads(self.rfile.read(length))
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("'messages' must be a non-empty list")
        actions = json.loads(self.headers.get("X-Balrog-Actions") or "[]")
        return Request(
            model=str(body.get("model", "")),
            messages=messages,
            actions=tuple(str(action) for action in actions),
            episode=_int_header(self.headers.get("X-Balrog-Episode")),
            step=_int_header(self.headers.get("X-Balrog-Step")),
            env=self.headers.get("X-Balrog-Env", ""),
        )

    def _json(self, status: int, payload: Mapping[str, object]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _int_header(value: str | None) -> int | None:
    return int(value) if value and value.lstrip("-").isdigit() else None


def _error(message: str, kind: str) -> JSONObject:
    return {"error": {"message": message, "type": kind, "code": None}}


_ids = iter(range(1, 2**62))


def _completion(request: Request, text: str) -> JSONObject:
    prompt_chars = sum(len(_text(message)) for message in request.messages)
    prompt_tokens, completion_tokens = max(1, prompt_chars // 4), max(1, len(text) // 4)
    return {
        "id": f"chatcmpl-dev-{next(_ids)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def start_dev_server(host: str = "127.0.0.1", port: int = 0, default_latency: float = 0.0) -> DevModelServer:
    """Serve in a daemon thread (tests, benchmarks); ``server.stop()`` ends it."""
    server = DevModelServer((host, port), default_latency)
    threading.Thread(target=server.serve_forever, name="dev-model-server", daemon=True).start()
    return server
