"""OpenAI-compatible HTTP API served next to the UI: /v1/models, /v1/chat/completions, /v1/search.

The last user message is the question, earlier user/assistant pairs the history; the reply's
message carries the answer text with [n] markers plus `citations` (the `ask --json` fields),
`refused` and, for refusals, `suggestions`. Streaming sends `chat.completion.chunk` events and
`data: [DONE]`. An optional `filters` object narrows the search to issues (names or ids), years
or a publication date range, resolved against the catalogue and filtered inside the engine.
Bearer keys come from settings.api_keys (ZHIBU_API_KEYS); without keys only loopback clients are
served. Bodies are capped, clients rate-limited, errors in OpenAI's shape. Calls only
`Pipeline` (ask/stream/search); validation is shared with the UI (`ui_actions`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from fastapi import Request  # module level: the route annotations are resolved from these globals
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from zhibu_qa.app.formatting import answer_json, search_json
from zhibu_qa.app.server import is_loopback
from zhibu_qa.app.ui_actions import AskOptions, checked_history
from zhibu_qa.errors import InputError, ZhibuError
from zhibu_qa.ingest.archive import IssueFilter, apply_issue_filter
from zhibu_qa.types import Answer, Filters, Turn

MODEL_ID = "zhibu-qa"
MAX_API_BODY = 256 * 1024  # a question, a long history and options fit easily
MAX_MESSAGES = 64
RATE_PER_MINUTE = 60  # requests per client (key or address); a chat front end sends one per question
BURST = 20
MAX_WAITING = 8  # answers waiting for the pipeline beyond this are told the server is busy
ROLES = ("system", "developer", "user", "assistant", "tool")


FILTER_KEYS = ("issues", "years", "date_from", "date_to", "columns", "articles")


def _joined(body: dict, extra: dict, key: str) -> Any:
    """A list option given at the top level, in `filters`, or both (checked by AskOptions)."""
    top, inner = body.get(key), extra.get(key)
    if top is None or inner is None:
        return inner if top is None else top
    return [*top, *inner] if isinstance(top, list) and isinstance(inner, list) else inner


@dataclass(frozen=True)
class FilteredOptions(AskOptions):
    """AskOptions plus the issue ids an issue/date filter resolved to (filtered inside the engine)."""

    issue_ids: tuple[str, ...] = ()

    @property
    def filters(self) -> Filters:
        return Filters(self.issue_ids, self.columns, self.article_ids)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "issue_ids": list(self.issue_ids)}


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.message, self.kind, self.code, self.param = status, message, kind, code, param

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "code": self.code, "param": self.param}}


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, code="invalid_value", param=param)


@dataclass
class RateLimiter:
    """A token bucket per client: `per_minute` sustained, `burst` at once."""

    per_minute: float = RATE_PER_MINUTE
    burst: float = BURST
    clock: Any = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, client: str) -> bool:
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.per_minute / 60)
            if len(self._buckets) > 10_000:
                self._buckets.clear()
            if tokens < 1:
                self._buckets[client] = (tokens, now)
                return False
            self._buckets[client] = (tokens - 1, now)
            return True


def message_text(message: Any, i: int) -> tuple[str, str]:
    """(role, text) of one chat message; content may be a string or a list of text parts."""
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise bad_request(f"messages[{i}] must be an object with a role in {', '.join(ROLES)}", "messages")
    content = message.get("content")
    if isinstance(content, list):
        if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                   for p in content):
            raise bad_request(f"messages[{i}].content parts must be text parts", "messages")
        content = "".join(p["text"] for p in content)
    if content is None and message["role"] != "user":
        content = ""
    if not isinstance(content, str):
        raise bad_request(f"messages[{i}].content must be a string or a list of text parts", "messages")
    return message["role"], content


def parse_messages(messages: Any) -> tuple[str, list[Turn]]:
    """(question, history) from OpenAI chat messages. Example: parse_messages([{"role": "user", "content": "q"}])"""
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list", "messages")
    if len(messages) > MAX_MESSAGES:
        raise bad_request(f"at most {MAX_MESSAGES} messages", "messages")
    pairs = [message_text(m, i) for i, m in enumerate(messages)]
    if pairs[-1][0] != "user":
        raise bad_request("the last message must come from the user", "messages")
    history, question = [], None
    for role, text in pairs[:-1]:
        if role == "user":
            question = text
        elif role == "assistant" and question is not None:
            history.append([question, text])
            question = None
    try:
        return pairs[-1][1], checked_history(history[-20:])
    except InputError as exc:
        raise bad_request(str(exc), "messages") from None


class Api:
    """The routes' behaviour, independent of FastAPI request objects (so it is easy to test)."""

    def __init__(self, pipeline, startup, settings, answers, *, keys: tuple[str, ...] = ()):
        self.pipeline, self.startup, self.settings, self.answers = pipeline, startup, settings, answers
        self.keys = tuple(k for k in keys if k)
        self.limiter = RateLimiter()
        self._slot = threading.Semaphore(1)  # one answer at a time, as the UI's queue does
        self._waiting = 0
        self._count_lock = threading.Lock()

    # ---- checks --------------------------------------------------------------------------------
    def authorise(self, authorization: str | None, client_host: str) -> str:
        """The rate-limit key of an allowed caller; else an ApiError (401, 403 or 429)."""
        if self.keys:
            scheme, _, token = (authorization or "").partition(" ")
            if scheme.lower() != "bearer" or not any(hmac.compare_digest(token.strip(), k) for k in self.keys):
                raise ApiError(401, "invalid or missing API key: send Authorization: Bearer <key>",
                               code="invalid_api_key")
            # one bucket per key: a digest of the whole key (keys may share a prefix), never the key itself
            who = "key:" + hashlib.sha256(token.strip().encode()).hexdigest()[:16]
        elif is_loopback(client_host):
            who = "ip:" + client_host
        else:
            raise ApiError(403, "no API keys are configured (ZHIBU_API_KEYS), so the API serves only localhost",
                           "permission_error", "api_keys_not_configured")
        if not self.limiter.allow(who):
            raise ApiError(429, f"rate limit reached ({RATE_PER_MINUTE} requests per minute)", "rate_limit_error",
                           "rate_limit_exceeded")
        return who

    def ready(self) -> None:
        try:
            self.startup.check()
        except ZhibuError as exc:
            raise ApiError(503, str(exc), "server_error", "not_ready") from None

    @staticmethod
    def parse_body(raw: bytes) -> dict:
        if len(raw) > MAX_API_BODY:
            raise ApiError(413, f"request body too large (limit {MAX_API_BODY} bytes)", code="request_too_large")
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"the body is not valid JSON: {exc}", code="invalid_json") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object", code="invalid_json")
        return body

    def options(self, body: dict) -> AskOptions:
        """Optional extensions k, mode, backend, columns, articles and a `filters` object (issues,
        years, date_from, date_to, columns, articles), checked like the UI's controls."""
        s = self.settings
        extra = body.get("filters") or {}
        if not isinstance(extra, dict) or set(extra) - set(FILTER_KEYS):
            raise bad_request(f"filters must be an object with the keys {', '.join(FILTER_KEYS)}", "filters")
        try:
            opts = AskOptions.checked(body.get("backend") or s.backend, body.get("k") or s.top_k,
                                      body.get("mode") or s.retrieval_mode, _joined(body, extra, "columns"),
                                      _joined(body, extra, "articles"))
            issues = IssueFilter.checked(extra.get("issues"), extra.get("years"), extra.get("date_from"),
                                         extra.get("date_to"))
            if issues.empty:
                return opts
            resolved = apply_issue_filter(opts.filters, issues, self.pipeline.catalogue.issues)
        except InputError as exc:
            raise bad_request(str(exc), "filters" if extra else None) from None
        return FilteredOptions(**{f.name: getattr(opts, f.name) for f in fields(AskOptions)},
                               issue_ids=resolved.issue_ids)

    def _enter(self) -> None:
        with self._count_lock:
            if self._waiting >= MAX_WAITING:
                raise ApiError(503, "the server is busy; try again shortly", "server_error", "busy")
            self._waiting += 1
        self._slot.acquire()

    def _leave(self) -> None:
        self._slot.release()
        with self._count_lock:
            self._waiting -= 1

    # ---- endpoints -----------------------------------------------------------------------------
    @staticmethod
    def models() -> dict:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "zhibu-qa"}]}

    def chat_request(self, body: dict) -> tuple[str, list[Turn], AskOptions, bool]:
        model = body.get("model", MODEL_ID)
        if model not in (MODEL_ID, None, ""):
            raise ApiError(404, f"model {str(model)[:40]!r} does not exist; use {MODEL_ID!r}", code="model_not_found",
                           param="model")
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise bad_request("stream must be true or false", "stream")
        question, history = parse_messages(body.get("messages"))
        return question, history, self.options(body), stream

    @staticmethod
    def _message(answer: Answer) -> dict:
        data = answer_json(answer)
        message = {"role": "assistant", "content": answer.text, "refusal": None, "citations": data["citations"],
                   "refused": answer.refused}
        if answer.refused:
            message["suggestions"] = data["suggestions"]
        if answer.notices:
            message["notices"] = list(answer.notices)
        return message

    def _issue(self, answer: Answer, opts: AskOptions, answer_id: str | None = None) -> str:
        return self.answers.issue(answer_json(answer), {**opts.as_dict(), "source": "openai-api"}, answer_id)

    def complete(self, question: str, history: list[Turn], opts: AskOptions) -> dict:
        self._enter()
        try:
            answer = self.pipeline.ask(question, history, backend=opts.backend, k=opts.k, mode=opts.mode,
                                       filters=opts.filters)
        except ZhibuError as exc:
            raise bad_request(str(exc), "messages") from None
        finally:
            self._leave()
        answer_id = self._issue(answer, opts)
        return {"id": f"chatcmpl-{answer_id}", "object": "chat.completion", "created": int(time.time()),
                "model": MODEL_ID, "choices": [{"index": 0, "message": self._message(answer),
                                                "finish_reason": "stop"}]}

    def first_event(self, question: str, history: list[Turn], opts: AskOptions) -> Iterator[str | Answer]:
        """Start the answer stream; errors before the first event become a plain ApiError response."""
        self._enter()
        events = self.pipeline.stream(question, history, backend=opts.backend, k=opts.k, mode=opts.mode,
                                      filters=opts.filters)
        try:
            first = next(events)
        except ZhibuError as exc:
            self._leave()
            raise bad_request(str(exc), "messages") from None
        except BaseException:
            self._leave()
            raise
        return self._rest(first, events)

    def _rest(self, first, events) -> Iterator[str | Answer]:
        try:
            yield first
            yield from events
        finally:
            self._leave()

    def sse(self, events: Iterator[str | Answer], opts: AskOptions) -> Iterator[str]:
        """Server-sent chat.completion.chunk events, then data: [DONE]."""
        created, answer_id, streamed = int(time.time()), uuid.uuid4().hex, ""

        def chunk(delta: dict, finish: str | None = None) -> str:
            obj = {"id": f"chatcmpl-{answer_id}", "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        try:
            for event in events:
                if isinstance(event, str):
                    streamed += event
                    yield chunk({"content": event})
                    continue
                self._issue(event, opts, answer_id)
                message = self._message(event)
                tail = event.text[len(streamed):] if event.text.startswith(streamed) else ""
                final = {k: v for k, v in message.items() if k not in ("role", "content", "refusal")}
                yield chunk({"content": tail, **final} if tail else final, "stop")
        except ZhibuError as exc:
            yield f"data: {json.dumps(ApiError(500, str(exc), 'server_error').body(), ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"

    def search(self, body: dict) -> dict:
        query = body.get("query", body.get("input"))
        if not isinstance(query, str) or not query.strip():
            raise bad_request("query must be a non-empty string", "query")
        if len(query) > self.settings.max_question_chars:
            raise bad_request(f"query longer than {self.settings.max_question_chars} characters", "query")
        opts = self.options(body)
        self._enter()
        try:
            hits, ms = self.pipeline.search(query, opts.k, opts.mode, opts.filters)
        except ZhibuError as exc:
            raise bad_request(str(exc), "query") from None
        finally:
            self._leave()
        out = search_json(query, opts.mode, ms, hits)
        return {"object": "list", "data": out.pop("hits"), **out}


def add_routes(app, api: Api) -> None:
    """Mount the /v1 routes on a FastAPI app (before Gradio is mounted at /)."""
    def fail(exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    async def checked(request: Request, with_body: bool) -> dict:
        api.authorise(request.headers.get("authorization"), request.client.host if request.client else "")
        if not with_body:
            return {}
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_API_BODY:
            raise ApiError(413, f"request body too large (limit {MAX_API_BODY} bytes)", code="request_too_large")
        body = api.parse_body(await request.body())
        api.ready()
        return body

    @app.get("/v1/models", include_in_schema=False)
    async def models(request: Request):
        try:
            await checked(request, False)
        except ApiError as exc:
            return fail(exc)
        return api.models()

    @app.post("/v1/chat/completions", include_in_schema=False)
    async def chat(request: Request):
        try:
            question, history, opts, stream = api.chat_request(await checked(request, True))
            if not stream:
                return await run_in_threadpool(api.complete, question, history, opts)
            events = await run_in_threadpool(api.first_event, question, history, opts)
        except ApiError as exc:
            return fail(exc)
        return StreamingResponse(api.sse(events, opts), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.post("/v1/search", include_in_schema=False)
    async def search(request: Request):
        try:
            body = await checked(request, True)
            return await run_in_threadpool(api.search, body)
        except ApiError as exc:
            return fail(exc)
