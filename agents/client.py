"""Calling an OpenAI-compatible chat endpoint, with retries that end.

The ``openai`` client does the HTTP (its own retries are off: this module
owns them, so every attempt is counted and logged). Timeouts, connection
errors, 408/409/425/429, 5xx and unreadable responses are retried with
exponential backoff and jitter (a ``Retry-After`` header is honoured up to
the cap); after ``retries`` retries, or at once on any other error (400, 401,
404...), ``EndpointFailed`` is raised and the episode ends in the error state.

One ``openai.OpenAI`` object per endpoint per process: it is thread-safe and
shares its connection pool between the episodes a worker drives.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx2
import openai
from openai.types.chat import ChatCompletion

from agents.endpoints import EndpointMisconfigured, EndpointSettings

MAX_BACKOFF_SECONDS = 60.0
MAX_ERROR_CHARS = 200
KEEPALIVE_CONNECTIONS = 1024  # one per episode in flight, so a busy worker reuses its connections
RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


class EndpointFailed(Exception):
    """The endpoint gave no usable answer: retries exhausted or a fatal error."""

    def __init__(self, message: str, attempts: int, errors: Sequence[str]) -> None:
        super().__init__(message)
        self.message = message
        self.attempts = attempts
        self.errors = tuple(errors)


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Completion:
    text: str
    reasoning: str  # a provider's separate reasoning text (reasoning_content), if any
    input_tokens: int
    output_tokens: int
    finish_reason: str
    model: str
    latency_ms: float  # all attempts, backoff included
    attempts: int
    errors: tuple[str, ...] = ()


Sleep = Callable[[float], None]


class ModelClient:
    def __init__(
        self, endpoint: EndpointSettings, *, sleep: Sleep = time.sleep, rng: random.Random | None = None
    ) -> None:
        self.endpoint = endpoint
        self._sleep = sleep
        self._rng = rng or random.Random()

    def complete(
        self, messages: Sequence[Mapping[str, object]], headers: Mapping[str, str] | None = None
    ) -> Completion:
        started = time.perf_counter()
        errors: list[str] = []
        attempts_allowed = self.endpoint.retries + 1
        for attempt in range(1, attempts_allowed + 1):
            _count(_calls_metric)
            try:
                response = self._call(messages, headers)
                return self._completion(response, started, attempt, errors)
            except _Retryable as exc:
                _count(_errors_metric)
                errors.append(f"attempt {attempt}: {exc}"[:MAX_ERROR_CHARS])
                if attempt < attempts_allowed:
                    self._sleep(self.backoff(attempt, exc.retry_after))
            except (openai.APIStatusError, EndpointMisconfigured) as exc:
                _count(_errors_metric)
                errors.append(f"attempt {attempt}: {_describe(exc)}"[:MAX_ERROR_CHARS])
                raise EndpointFailed(f"{self.endpoint.name}: {_describe(exc)}", attempt, errors) from None
        raise EndpointFailed(
            f"{self.endpoint.name}: no answer after {attempts_allowed} attempts ({errors[-1] if errors else ''})",
            attempts_allowed,
            errors,
        )

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with equal jitter, at least ``Retry-After``, capped."""
        ceiling = min(MAX_BACKOFF_SECONDS, self.endpoint.retry_base_delay * 2.0 ** (attempt - 1))
        delay = ceiling / 2 + self._rng.random() * ceiling / 2
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_BACKOFF_SECONDS))
        return delay

    def _call(self, messages: Sequence[Mapping[str, object]], headers: Mapping[str, str] | None) -> ChatCompletion:
        """POST /chat/completions. The JSON is what ``chat.completions.create``
        sends, through the client's documented raw ``post``: ``create`` runs
        every message of the history through its TypedDict transform, about
        4 ms of CPU per call with a 16-turn history, the largest cost of a
        worker driving hundreds of episodes (measured, docs/agents.md)."""
        endpoint = self.endpoint
        body = {
            **endpoint.extra_body,
            "model": endpoint.model_id,
            "messages": list(messages),
            "temperature": endpoint.temperature,
            "max_tokens": endpoint.max_tokens,
        }
        options: openai.RequestOptions = {
            "headers": dict(headers or {}),
            "timeout": endpoint.timeout,
            "security": {"bearer_auth": True},
        }
        try:
            return openai_client(endpoint).post("/chat/completions", cast_to=ChatCompletion, body=body, options=options)
        except (openai.APITimeoutError, openai.APIConnectionError) as exc:
            raise _Retryable(_describe(exc)) from None
        except openai.APIStatusError as exc:
            if exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500:
                raise _Retryable(_describe(exc), _retry_after(exc)) from None
            raise
        except (openai.APIResponseValidationError, ValueError) as exc:
            raise _Retryable(f"unreadable response: {exc}") from None

    def _completion(self, response: ChatCompletion, started: float, attempt: int, errors: list[str]) -> Completion:
        choices = getattr(response, "choices", None)
        if not choices:
            raise _Retryable("the response has no choices")
        message = choices[0].message
        usage = getattr(response, "usage", None)
        extra = getattr(message, "model_extra", None) or {}
        return Completion(
            text=(message.content or "").strip(),
            reasoning=str(extra.get("reasoning_content") or extra.get("reasoning") or ""),
            input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            finish_reason=str(choices[0].finish_reason or ""),
            model=str(getattr(response, "model", "") or self.endpoint.model_id),
            latency_ms=(time.perf_counter() - started) * 1000,
            attempts=attempt,
            errors=tuple(errors),
        )


# Per-process counters on /metrics (the ops app), when it is installed.
class _Counter(Protocol):
    def inc(self, amount: float = 1.0) -> None: ...


_calls_metric: _Counter | None = None
_errors_metric: _Counter | None = None
with contextlib.suppress(ImportError):  # a deployment without the ops app counts nothing
    from ops.metrics import model_calls as _calls_metric
    from ops.metrics import model_errors as _errors_metric


def _count(metric: _Counter | None) -> None:
    if metric is not None:
        metric.inc()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {str(exc.message)[:120]}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection failed: {exc.__cause__ or exc}"[:160]
    return str(exc)[:160]


def _retry_after(exc: openai.APIStatusError) -> float | None:
    raw = exc.response.headers.get("retry-after") if exc.response is not None else None
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


# ----- one openai client per endpoint per process ---------------------------------------
_clients: dict[tuple[int, str, str], openai.OpenAI] = {}  # (endpoint pk, base URL, key variable)
_clients_guard = threading.Lock()


def openai_client(endpoint: EndpointSettings) -> openai.OpenAI:
    key = (endpoint.pk, endpoint.base_url, endpoint.api_key_env)
    with _clients_guard:
        client = _clients.get(key)
        if client is None:
            limits = httpx2.Limits(max_connections=None, max_keepalive_connections=KEEPALIVE_CONNECTIONS)
            client = openai.OpenAI(
                api_key=endpoint.api_key(),
                base_url=endpoint.base_url,
                max_retries=0,
                http_client=openai.DefaultHttpxClient(limits=limits),
            )
            _clients[key] = client
        return client


def forget_clients() -> None:
    """Close every cached client (tests; after an endpoint's key changes)."""
    with _clients_guard:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()
