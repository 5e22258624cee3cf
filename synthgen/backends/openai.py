"""The OpenAI-compatible HTTP backend: NIM, OpenAI, Gemini's OpenAI endpoint, a vLLM server,
Ollama, or any server speaking ``/v1/chat/completions``.

Why it looks like this:
- Callers are synchronous; the HTTP work is async (httpx) so one ``generate()`` keeps up to
  ``concurrency`` requests in flight. The event loop lives inside ``generate()``.
- Transient failures (timeouts, dropped connections, 429, 5xx) are retried with exponential
  backoff and jitter, honouring ``Retry-After``. A bad key (401/403) or an unknown model (404)
  stops the run with one clear line: retrying cannot fix them. Anything else that goes wrong
  with one request (garbage body, exhausted retries, a 400) becomes a Completion with
  ``finish_reason="error"`` so the pipeline counts it and carries on.
- A server that does not know a grammar field answers 200 with unconstrained text, so
  ``load()`` probes each candidate field with ``start: "yes"`` and keeps only one that really
  constrained the reply.
- Keys are read from the environment at call time, sent only in the Authorization header, and
  scrubbed from every message this module builds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import email.utils
import logging
import random
import time
from collections.abc import Coroutine, Sequence
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import Field, ValidationError

from synthgen.backends.base import Completion, FinishReason, GenerationRequest
from synthgen.backends.grammar_args import openai_json_fields
from synthgen.backends.providers import GrammarStyle, format_grammar, key_names, read_key, resolve_endpoint
from synthgen.config import ConfigBase
from synthgen.errors import AuthError, BackendError, ConfigError, SynthgenError, redact, register_secret
from synthgen.models import ModelSpec

log = logging.getLogger(__name__)

PROBE_GRAMMAR = 'start: "yes"'
_RETRY_STATUS = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))
_FINISH: dict[str, FinishReason] = {"stop": "stop", "eos": "stop", "end_turn": "stop", "stop_sequence": "stop",
                                    "tool_calls": "stop", "length": "length", "max_tokens": "length"}
T = TypeVar("T")


class OpenAISettings(ConfigBase):
    """Constructor overrides (``OpenAIBackend(spec, concurrency=16, ...)``)."""

    base_url: str | None = None
    api_key_env: str | None = None
    concurrency: int = Field(8, ge=1, le=512)
    timeout_s: float = Field(120.0, gt=0)  # whole request, connect to last byte
    max_attempts: int = Field(3, ge=1, le=20)
    backoff_base_s: float = Field(1.0, ge=0)
    backoff_max_s: float = Field(30.0, ge=0)
    retry_after_max_s: float = Field(120.0, ge=0)  # a server asking for longer is capped here
    probe_grammar: bool = True  # False: trust the preset's first grammar field without probing
    # No reply at all (timeouts, refused connections) for this long since the last one (or
    # since load) means the endpoint is dead: the call stops with a BackendError, and so
    # does the run, instead of retrying every request of every batch.
    give_up_after_s: float = Field(300.0, gt=0)
    # False for a vLLM server on CPU: it fails seeded requests whose prefill is chunked
    # ("CPU Generator does not use offset"); the runner then sends no per-request seeds.
    send_seed: bool = True


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class _Failed(Exception):
    """One request failed for good; becomes error completions, the run goes on."""


class UnknownModelError(BackendError):
    """The endpoint answered 404 (or says the model does not exist): retrying cannot help."""


class OpenAIBackend:
    name: ClassVar[str] = "openai"
    supports_batching: ClassVar[bool] = True
    # Whether this endpoint gets the JSON schema (instance attribute: the provider decides);
    # where it is not sent, or the server ignores it, outputs are checked against it afterwards.
    supports_json_schema: bool
    answers_from_recipe: ClassVar[bool] = False
    supports_request_seed = True

    def __init__(self, spec: ModelSpec, **overrides: Any) -> None:
        try:
            self.settings = OpenAISettings(**overrides)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            raise ConfigError(f"openai backend option {field}: {err['msg']}") from None
        self.spec = spec
        self.model = spec.api_model or spec.alias
        self.endpoint = resolve_endpoint(
            spec.provider, self.settings.base_url or spec.base_url, self.settings.api_key_env or spec.api_key_env
        )
        self.provider = self.endpoint.provider
        self.grammar_style: GrammarStyle | None = self.provider.grammar_styles[0] if self.provider.grammar_styles else None
        self.supports_grammar = self.grammar_style is not None  # settled by load()'s probe
        self.supports_json_schema = self.provider.json_style != "none"
        self.supports_request_seed = self.settings.send_seed  # read by the pipeline runner
        self._grammar_cache: dict[str, str] = {}
        self._warned_unconstrained = False
        self._last_reply = time.monotonic()  # any HTTP reply, or load(): the dead-endpoint clock

    def __repr__(self) -> str:
        return f"OpenAIBackend(provider={self.provider.name!r}, model={self.model!r}, base_url={self._scrub(self.endpoint.base_url)!r})"

    @property
    def source_label(self) -> str:
        return self.spec.provider or "openai"

    @property
    def accelerators(self) -> int:
        return 0

    # ----- the Backend protocol -------------------------------------------------------------
    def load(self) -> None:
        """Check the endpoint answers and accepts the key, then settle grammar support."""
        self._require_key()
        self._last_reply = time.monotonic()
        self._run(self._load_async())

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        if not requests:
            return []
        self._require_key()
        if any(r.grammar for r in requests) and not self.supports_grammar and not self._warned_unconstrained:
            self._warned_unconstrained = True
            log.warning("%s: grammar not supported by this endpoint; generating unconstrained (outputs are validated later)",
                        self.provider.name)
        return self._run(self._generate_all(requests))

    def close(self) -> None:
        """Nothing is held between calls: each generate() opens and closes its own client."""

    # ----- plumbing -------------------------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(coro)
        # Called from inside a running loop (a notebook): run ours on a worker thread.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coro).result()

    def _client(self) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=self.settings.concurrency, max_keepalive_connections=self.settings.concurrency)
        return httpx.AsyncClient(timeout=httpx.Timeout(self.settings.timeout_s), limits=limits, trust_env=False)

    def _require_key(self) -> None:
        if self.provider.key_required and not read_key(self.endpoint):
            raise AuthError(
                f"no API key for {self.provider.name}: {key_names(self.endpoint)} is not set",
                hint="export it or put it in .env (see .env.example)",
            )

    def _headers(self) -> dict[str, str]:
        key = read_key(self.endpoint)
        register_secret(key)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _scrub(self, text: str) -> str:
        key = read_key(self.endpoint)
        register_secret(key)  # a model YAML's own api_key_env: redacted everywhere from now on
        if key:
            text = text.replace(key, "***")
        return redact(text)

    def _one_line(self, text: str, limit: int = 240) -> str:
        line = " ".join(self._scrub(str(text)).split())
        return line if len(line) <= limit else line[: limit - 1] + "…"

    # ----- HTTP with retries ----------------------------------------------------------------
    async def _send(self, client: httpx.AsyncClient, method: str, url: str, body: dict | None = None) -> httpx.Response:
        """One request, retried on transient failures; raises _Failed when retries run out."""
        attempts, last = self.settings.max_attempts, ""
        for attempt in range(1, attempts + 1):
            wait: float | None = None
            try:
                async with asyncio.timeout(self.settings.timeout_s):
                    resp = await client.request(method, url, json=body, headers=self._headers())
                self._last_reply = time.monotonic()
                self._raise_for_status(resp)
                return resp
            except _Retryable as exc:
                last, wait = str(exc), exc.retry_after
            except (httpx.TimeoutException, TimeoutError):
                last = f"timed out after {self.settings.timeout_s:g}s"
                self._check_alive(last)
            except httpx.TransportError as exc:
                last = f"connection error ({type(exc).__name__}: {self._one_line(exc, 120)})"
                self._check_alive(last)
            if attempt < attempts:
                delay = self._delay(attempt, wait)
                log.warning("%s %s: %s; retry %d of %d in %.1fs", method, self._scrub(url), last, attempt, attempts - 1, delay)
                await asyncio.sleep(delay)
        raise _Failed(f"gave up after {attempts} attempts: {last}")

    def _check_alive(self, last: str) -> None:
        silent = time.monotonic() - self._last_reply
        if silent > self.settings.give_up_after_s:
            raise BackendError(
                f"{self.provider.name} at {self._scrub(self.endpoint.base_url)} sent no reply for {silent:.0f} s "
                f"(last: {last}); stopping instead of waiting on a dead endpoint",
                hint="check the server, then rerun with --resume; --request-timeout, --request-attempts and "
                     "--give-up-after set these bounds",
            )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.settings.retry_after_max_s) + random.uniform(0, 0.1)
        ceiling = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _raise_for_status(self, resp: httpx.Response) -> None:
        status = resp.status_code
        if status < 300:
            return
        detail = self._one_line(_error_message(resp), 200)
        if status in (401, 403):
            raise AuthError(
                f"{self.provider.name} at {self._scrub(self.endpoint.base_url)} refused the API key (HTTP {status})",
                hint=f"check {key_names(self.endpoint) or 'the key'}",
            )
        if status == 404 or (status == 400 and _says_unknown_model(detail)):
            raise UnknownModelError(
                f"model {self.model!r} not found at {self._scrub(self.endpoint.base_url)} (HTTP {status}: {detail})",
                hint="check api_model in the model YAML; GET <base_url>/models lists what the server serves",
            )
        if status in _RETRY_STATUS:
            raise _Retryable(f"HTTP {status}: {detail}", _retry_after(resp))
        raise _Failed(f"HTTP {status}: {detail}")

    # ----- load: reachability, key, grammar probe -------------------------------------------
    async def _load_async(self) -> None:
        async with self._client() as client:
            try:
                await self._send(client, "GET", self.endpoint.models_url)
            except UnknownModelError:
                pass  # a server without /models is fine; the probe or first request names a bad model
            except _Failed as exc:
                raise BackendError(
                    f"cannot reach {self._scrub(self.endpoint.base_url)}: {exc}",
                    hint="is the server running? check base_url or $SYNTHGEN_BASE_URL",
                ) from None
            if self.provider.grammar_styles and self.settings.probe_grammar:
                self.grammar_style = await self._probe(client)
        self.supports_grammar = self.grammar_style is not None

    async def _probe(self, client: httpx.AsyncClient) -> GrammarStyle | None:
        tried = []
        for style in self.provider.grammar_styles:
            reply = await self._probe_style(client, style)
            if reply == "yes":
                log.info("%s: grammar constrained through %s (probe answered 'yes')", self.provider.name, style.name)
                return style
            tried.append(f"{style.name}: {reply}")
        log.warning("%s: the endpoint did not constrain a probe grammar (%s); outputs will be unconstrained "
                    "and validated afterwards", self.provider.name, "; ".join(tried))
        return None

    async def _probe_style(self, client: httpx.AsyncClient, style: GrammarStyle) -> str:
        # A prompt that does not invite "yes", so an ignored grammar field can't pass by chance.
        body = {"model": self.model, "messages": [{"role": "user", "content": "Name a colour."}],
                "temperature": 0.0, self.provider.max_tokens_field: 8}
        try:
            style.apply(body, format_grammar(style, PROBE_GRAMMAR))
            data = (await self._send(client, "POST", self.endpoint.chat_url, body)).json()
            return data["choices"][0]["message"]["content"]
        except (_Failed, ConfigError) as exc:
            return f"refused ({self._one_line(exc, 120)})"
        except (ValueError, KeyError, IndexError, TypeError):
            return "unreadable reply"

    # ----- generate ---------------------------------------------------------------------------
    async def _generate_all(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        sem = asyncio.Semaphore(self.settings.concurrency)
        async with self._client() as client:
            try:
                async with asyncio.TaskGroup() as group:
                    tasks = [group.create_task(self._one(client, sem, r)) for r in requests]
            except BaseExceptionGroup as eg:  # a fatal error (bad key, unknown model) stops the batch
                fatal = [e for e in eg.exceptions if isinstance(e, SynthgenError)]
                if fatal:
                    raise fatal[0] from None
                raise
        return [c for task in tasks for c in task.result()]

    async def _one(self, client: httpx.AsyncClient, sem: asyncio.Semaphore, req: GenerationRequest) -> list[Completion]:
        n = req.sampling.n
        if n == 1 or self.provider.supports_n:
            return await self._sample(client, sem, req, n, req.seed, 0)
        seeds = [None if req.seed is None else req.seed + i for i in range(n)]  # distinct samples, still reproducible
        parts = await asyncio.gather(*(self._sample(client, sem, req, 1, seeds[i], i) for i in range(n)))
        return [c for part in parts for c in part]

    async def _sample(self, client: httpx.AsyncClient, sem: asyncio.Semaphore, req: GenerationRequest,
                      n: int, seed: int | None, first: int) -> list[Completion]:
        async with sem:
            start = time.perf_counter()
            try:
                resp = await self._send(client, "POST", self.endpoint.chat_url, self._body(req, n, seed))
                return self._parse(resp, req, n, first, time.perf_counter() - start)
            except _Failed as exc:
                return _errors(req, range(first, first + n), self._one_line(exc), time.perf_counter() - start)

    def _body(self, req: GenerationRequest, n: int, seed: int | None) -> dict[str, Any]:
        s = req.sampling
        body: dict[str, Any] = {"model": self.model, "messages": req.messages, "temperature": s.temperature,
                                "top_p": s.top_p, self.provider.max_tokens_field: s.max_tokens}
        if n > 1:
            body["n"] = n
        if seed is not None and self.supports_request_seed:
            body["seed"] = seed
        if req.grammar and self.supports_grammar and self.grammar_style is not None:
            self.grammar_style.apply(body, self._formatted(req.grammar))
        body.update(openai_json_fields(req.json_schema, self.provider.json_style))
        return body

    def _formatted(self, grammar: str) -> str:
        if grammar not in self._grammar_cache:
            assert self.grammar_style is not None
            self._grammar_cache[grammar] = format_grammar(self.grammar_style, grammar)
        return self._grammar_cache[grammar]

    def _parse(self, resp: httpx.Response, req: GenerationRequest, n: int, first: int, latency: float) -> list[Completion]:
        """A 200 body into n completions; anything unreadable becomes error completions."""
        indices = range(first, first + n)
        try:
            data = resp.json()
            choices = data["choices"]
            texts = [(c["message"]["content"], c.get("finish_reason")) for c in choices[:n]]
            usage = data.get("usage") or {}
            prompt_tokens, completion_tokens = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
            details = usage.get("prompt_tokens_details")
            cached = details.get("cached_tokens") if isinstance(details, dict) else None
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            snippet = self._one_line(resp.text, 80) if resp.text else "empty"
            why = "not JSON" if isinstance(exc, ValueError) else f"missing {exc}"
            return _errors(req, indices, f"unreadable response body ({why}): {snippet}", latency)
        if not texts or any(not isinstance(t, str) for t, _ in texts):
            return _errors(req, indices, "response has no message content", latency)
        shares = _split(completion_tokens, len(texts))
        out = [
            _completion(req, first + i, text, reason, prompt_tokens if i == 0 else 0, shares[i], latency)
            for i, (text, reason) in enumerate(texts)
        ]
        if isinstance(cached, int) and not isinstance(cached, bool):  # servers that cache prompts say so in usage
            out[0].cached_tokens = max(0, min(cached, prompt_tokens))
        missing = indices[len(texts):]
        return out + _errors(req, missing, f"server returned {len(texts)} of {n} choices", latency)


# ----- pure helpers ---------------------------------------------------------------------------
def _completion(req: GenerationRequest, index: int, text: str, reason: Any, prompt_tokens: int,
                completion_tokens: int, latency: float) -> Completion:
    finish = _FINISH.get(str(reason), "stop") if reason is not None else "stop"
    error = None
    if reason == "content_filter":
        finish, error = "error", "blocked by the provider's content filter"
    return Completion(req.id, text, finish, prompt_tokens, completion_tokens, latency, index, error)


def _errors(req: GenerationRequest, indices: range, error: str, latency: float) -> list[Completion]:
    return [Completion(req.id, "", "error", latency_s=latency, index=i, error=error) for i in indices]


def _split(total: int, parts: int) -> list[int]:
    """Share a total across n choices so the ledger's sum stays exact (the API gives one total)."""
    base, extra = divmod(total, max(parts, 1))
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _error_message(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text or resp.reason_phrase
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("detail") or err)
        if isinstance(data.get("message"), str):
            return data["message"]
        return str(err)
    return str(data)


def _says_unknown_model(detail: str) -> bool:
    low = detail.lower()
    return "model" in low and any(s in low for s in ("not found", "does not exist", "unknown model", "no such model"))


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
