"""Chat model backends behind one `LLM.stream()` method, a name registry, and a scripted fake.

Owns the wire protocol of OpenAI-compatible `/chat/completions` endpoints (JSON replies and SSE
streams) and turns transport failures into `BackendUnavailableError` / `GenerationError`.
Leaves out prompt wording (`prompts`), retrieval and citation checks (`service`, `citations`).
"""

from __future__ import annotations

import copy
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import httpx

from zhibu_qa.errors import BackendUnavailableError, ConfigError, GenerationError

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}
ROLES = ("system", "user", "assistant")


def check_messages(messages: Sequence[Message]) -> None:
    """Raise ValueError unless `messages` is a non-empty list of {role, content} dicts.

    Example: check_messages([{"role": "user", "content": "你好"}]) is None
    """
    if not messages:
        raise ValueError("messages must not be empty")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in ROLES or not isinstance(msg.get("content"), str):
            raise ValueError(f"message {i} must be {{'role': one of {ROLES}, 'content': str}}, got {msg!r}")


class LLM(ABC):
    """A chat model. Backends implement `stream`; `complete` joins the deltas."""

    name: str = "llm"  # shown in Answer.backend and logs

    @abstractmethod
    def stream(self, messages: list[Message], *, temperature: float = 0.0) -> Iterator[str]:
        """Yield the reply as text deltas (raises BackendUnavailableError / GenerationError)."""

    def complete(self, messages: list[Message], *, temperature: float = 0.0) -> str:
        """The whole reply as one string."""
        return "".join(self.stream(messages, temperature=temperature))


class OpenAICompatibleLLM(LLM):
    """Any server speaking the OpenAI chat completions API (vLLM, Ollama, llama.cpp, DeepSeek, ...).

    `base_url` is used as given plus "/chat/completions" (so include "/v1" if the server needs it).
    Proxy environment variables are ignored (components do not read the environment).
    """

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 60.0):
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"LLM base_url {base_url!r} is not an http(s) URL, e.g. http://127.0.0.1:8000/v1")
        if not model.strip():
            raise ConfigError("LLM model name is empty; give the model name the server expects")
        if not timeout > 0:
            raise ConfigError(f"LLM timeout must be positive, got {timeout!r}")
        self.url = base_url.strip().rstrip("/") + "/chat/completions"
        self.model = model.strip()
        self.timeout = float(timeout)
        self.name = f"openai:{self.model}"
        self._api_key = api_key
        # for messages: no user:password@ part, never the key
        self._shown_url = urlunsplit(urlsplit(self.url)._replace(netloc=parts.netloc.rpartition("@")[2]))

    def __repr__(self) -> str:
        return f"OpenAICompatibleLLM(url={self._shown_url!r}, model={self.model!r})"

    def complete(self, messages: list[Message], *, temperature: float = 0.0) -> str:
        """One non-streaming request; returns choices[0].message.content."""
        check_messages(messages)
        with self._errors_translated(), self._client() as client:
            response = client.post(self.url, json=self._body(messages, temperature, stream=False))
            self._check_status(response)
            return self._reply_content(response.text)

    def stream(self, messages: list[Message], *, temperature: float = 0.0) -> Iterator[str]:
        """Stream choices[0].delta.content over SSE; the request is sent when iteration starts."""
        check_messages(messages)
        body = self._body(messages, temperature, stream=True)
        return self._stream(body)

    def _stream(self, body: dict) -> Iterator[str]:
        with (
            self._errors_translated(),
            self._client() as client,
            client.stream("POST", self.url, json=body) as response,
        ):
            if response.status_code >= 400:
                response.read()
                self._check_status(response)
            content_type = response.headers.get("content-type", "")
            if "json" in content_type and "event-stream" not in content_type:
                # the server ignored stream=true and sent one JSON reply
                yield self._reply_content(response.read().decode("utf-8", "replace"))
                return
            yield from self._sse_deltas(response.iter_lines())

    # --- helpers -----------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        headers = {"Accept": "application/json, text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return httpx.Client(timeout=self.timeout, headers=headers, trust_env=False)

    def _body(self, messages: list[Message], temperature: float, *, stream: bool) -> dict:
        return {"model": self.model, "messages": list(messages), "temperature": temperature, "stream": stream}

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    @contextmanager
    def _errors_translated(self) -> Iterator[None]:
        """Turn httpx timeouts and transport errors into BackendUnavailableError."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise BackendUnavailableError(
                f"LLM endpoint {self._shown_url} did not answer within {self.timeout:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.HTTPError as exc:
            raise BackendUnavailableError(self._redact(
                f"cannot reach (or lost the connection to) LLM endpoint {self._shown_url}: {type(exc).__name__}: {exc}"
            )) from exc

    def _check_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        detail = _error_detail(response.text)
        hint = {
            401: " (check the API key)",
            403: " (check the API key and its permissions)",
            404: " (check base_url, e.g. whether it needs /v1, and the model name)",
        }.get(response.status_code, "")
        raise BackendUnavailableError(self._redact(
            f"LLM endpoint {self._shown_url} returned HTTP {response.status_code}{hint}: {detail}"
        ))

    def _reply_content(self, raw: str) -> str:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise GenerationError(
                self._redact(f"LLM endpoint {self._shown_url} sent malformed JSON ({exc.msg}): {raw[:200]!r}")
            ) from exc
        self._raise_if_error(data)
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise GenerationError(self._redact(
                f"LLM endpoint {self._shown_url} sent JSON without choices[0].message.content: {raw[:200]!r}"
            )) from exc
        if not isinstance(content, str):
            raise GenerationError(f"LLM endpoint {self._shown_url} sent no text content (content={content!r})")
        return content

    def _sse_deltas(self, lines: Iterable[str]) -> Iterator[str]:
        """Text deltas from SSE lines; stops at `data: [DONE]`."""
        events = 0
        for line in lines:
            line = line.strip()
            if not line.startswith("data:"):
                continue  # blank separators, ": comments", event:/id:/retry: fields
            payload = line[len("data:"):].strip()
            if payload == "[DONE]":
                return
            events += 1
            try:
                data = json.loads(payload)
            except json.JSONDecodeError as exc:
                raise GenerationError(self._redact(
                    f"LLM endpoint {self._shown_url} sent a malformed stream event ({exc.msg}): {payload[:200]!r}"
                )) from exc
            self._raise_if_error(data)
            choices = data.get("choices") if isinstance(data, dict) else None
            if not isinstance(choices, list):
                raise GenerationError(self._redact(
                    f"LLM endpoint {self._shown_url} sent a stream event without choices: {payload[:200]!r}"
                ))
            if not choices:
                continue  # e.g. a final usage-only event
            delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
            content = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(content, str) and content:
                yield content
        if not events:
            raise GenerationError(f"LLM endpoint {self._shown_url} sent no stream events (expected 'data: ...' lines)")

    def _raise_if_error(self, data: object) -> None:
        if isinstance(data, dict) and data.get("error"):
            raise BackendUnavailableError(self._redact(
                f"LLM endpoint {self._shown_url} reported an error: {_error_detail(json.dumps(data, ensure_ascii=False))}"
            ))


def _error_detail(raw: str) -> str:
    """The `error.message` of an OpenAI-style error body, else the start of the body."""
    try:
        error = json.loads(raw).get("error")
    except (json.JSONDecodeError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:300]
    if isinstance(error, str):
        return error[:300]
    return raw.strip()[:300] or "(empty body)"


class ScriptedLLM(LLM):
    """A deterministic fake: each call replies with the next scripted reply, in small chunks.

    A scripted item that is an exception is raised instead (to test failure handling), like real
    backends during iteration. Each call's messages (a deep copy) and temperature are recorded in
    `calls` and `temperatures` when `stream` is called.
    """

    name = "scripted"

    def __init__(self, replies: Sequence[str | Exception], chunk_chars: int = 3):
        if chunk_chars < 1:
            raise ConfigError(f"chunk_chars must be at least 1, got {chunk_chars}")
        self.replies = list(replies)
        self.chunk_chars = chunk_chars
        self.calls: list[list[Message]] = []
        self.temperatures: list[float] = []

    def stream(self, messages: list[Message], *, temperature: float = 0.0) -> Iterator[str]:
        check_messages(messages)
        self.calls.append(copy.deepcopy(list(messages)))
        self.temperatures.append(temperature)
        call = len(self.calls)
        reply = self.replies[call - 1] if call <= len(self.replies) else None
        return self._chunks(reply, call)

    def _chunks(self, reply: str | Exception | None, call: int) -> Iterator[str]:
        # a generator, so failures surface during iteration as with a real backend
        if reply is None:
            raise GenerationError(f"ScriptedLLM has no reply left: call {call}, {len(self.replies)} scripted")
        if isinstance(reply, Exception):
            raise reply
        for i in range(0, len(reply), self.chunk_chars):
            yield reply[i:i + self.chunk_chars]


LLM_BACKENDS: dict[str, type[LLM]] = {"openai": OpenAICompatibleLLM, "scripted": ScriptedLLM}


def make_llm(name: str, **kwargs: object) -> LLM:
    """Build the backend registered under `name` with its constructor arguments.

    Example: make_llm("scripted", replies=["答[1]。"]).complete([{"role": "user", "content": "问"}]) == "答[1]。"
    """
    cls = LLM_BACKENDS.get(name)
    if cls is None:
        raise ConfigError(f"unknown LLM backend {name!r}; valid backends: {', '.join(LLM_BACKENDS)}")
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        params = ", ".join(inspect.signature(cls).parameters)
        raise ConfigError(f"bad arguments for LLM backend {name!r}: {exc}; it takes: {params}") from exc
    return cls(**kwargs)
