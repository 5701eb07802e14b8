"""LLM backends: the OpenAI-compatible client against a real local HTTP server, the scripted fake,
and the registry."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from zhibu_qa.answer.citations import parse_markers, validate_markers
from zhibu_qa.answer.llms import LLM, OpenAICompatibleLLM, ScriptedLLM, check_messages, make_llm
from zhibu_qa.errors import BackendUnavailableError, ConfigError, GenerationError

MESSAGES = [
    {"role": "system", "content": "只依据摘录回答。"},
    {"role": "user", "content": "【1】标题\n和平区赋予街道吹哨调度权。\n\n问题：和平区赋予街道什么权力？"},
]
API_KEY = "sk-test-secret-123"

# --- a tiny OpenAI-compatible server -----------------------------------------------------------

Responder = Callable[[BaseHTTPRequestHandler], None]


class FakeServer:
    """Records each POST (path, headers, JSON body) and answers with `responder`."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.responder: Responder = json_reply("")
        self.release = threading.Event()  # set at teardown to free handlers that wait
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append({
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(raw),
                })
                server.responder(self)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # clients that gave up: not our concern
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def last(self) -> dict:
        return self.requests[-1]


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def json_reply(content: str) -> Responder:
    body = {"id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}
    return lambda h: send(h, 200, json.dumps(body, ensure_ascii=False).encode(), "application/json")


def raw_reply(status: int, body: str, content_type: str = "application/json") -> Responder:
    return lambda h: send(h, status, body.encode(), content_type)


def sse_reply(deltas: list[str], *, done: bool = True, extra_lines: tuple[str, ...] = ()) -> Responder:
    """An SSE stream as OpenAI sends it: a role-only first event, content deltas, usage, [DONE]."""

    def respond(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream; charset=utf-8")
        h.end_headers()  # no length: the body ends when the connection closes (HTTP/1.0)
        events = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        events += [{"choices": [{"index": 0, "delta": {"content": d}}]} for d in deltas]
        events += [{"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, {"choices": [], "usage": {}}]
        h.wfile.write(b": keep-alive\n\n")
        for line in extra_lines:
            h.wfile.write(line.encode() + b"\n\n")
        for event in events:
            h.wfile.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
            h.wfile.flush()
        if done:
            h.wfile.write(b"data: [DONE]\n\n")

    return respond


@pytest.fixture
def server():
    srv = FakeServer()
    srv.thread.start()
    yield srv
    srv.release.set()
    srv.httpd.shutdown()
    srv.httpd.server_close()


def llm_for(srv: FakeServer, **kwargs) -> OpenAICompatibleLLM:
    return OpenAICompatibleLLM(srv.base_url, kwargs.pop("model", "qwen2.5-7b"), **kwargs)


# --- OpenAI-compatible client --------------------------------------------------------------------


def test_complete_posts_the_chat_request_and_returns_the_message(server):
    server.responder = json_reply("和平区赋予街道吹哨调度权[1]。")
    llm = llm_for(server, api_key=API_KEY)
    assert llm.complete(MESSAGES, temperature=0.2) == "和平区赋予街道吹哨调度权[1]。"
    req = server.last
    assert req["path"] == "/v1/chat/completions"
    assert req["body"] == {"model": "qwen2.5-7b", "messages": MESSAGES, "temperature": 0.2, "stream": False}
    assert req["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert req["headers"]["content-type"] == "application/json"


def test_no_authorization_header_without_api_key(server):
    server.responder = json_reply("好")
    llm_for(server).complete(MESSAGES)
    assert "authorization" not in server.last["headers"]


@pytest.mark.parametrize(("suffix", "path"), [("", "/v1/chat/completions"), ("/", "/v1/chat/completions")])
def test_base_url_is_joined_with_chat_completions(server, suffix, path):
    server.responder = json_reply("好")
    OpenAICompatibleLLM(server.base_url + suffix, "m").complete(MESSAGES)
    assert server.last["path"] == path


def test_base_url_without_v1_is_used_as_given(server):
    server.responder = json_reply("好")
    OpenAICompatibleLLM(server.base_url.removesuffix("/v1") + "/", "m").complete(MESSAGES)
    assert server.last["path"] == "/chat/completions"


def test_stream_yields_each_sse_delta_in_order(server):
    deltas = ["和平区", "赋予街道", "吹哨调度权", "[1]", "。"]
    server.responder = sse_reply(deltas, extra_lines=("event: message", "id: 7"))
    llm = llm_for(server, api_key=API_KEY)
    assert list(llm.stream(MESSAGES)) == deltas
    assert server.last["body"]["stream"] is True
    assert server.last["body"]["model"] == "qwen2.5-7b"
    assert server.last["body"]["messages"] == MESSAGES
    assert server.last["headers"]["authorization"] == f"Bearer {API_KEY}"


def test_stream_sends_nothing_until_iterated(server):
    server.responder = sse_reply(["好"])
    it = llm_for(server).stream(MESSAGES)
    assert server.requests == []
    assert list(it) == ["好"]


def test_stream_tolerates_a_stream_closed_without_done(server):
    server.responder = sse_reply(["甲", "乙"], done=False)
    assert list(llm_for(server).stream(MESSAGES)) == ["甲", "乙"]


def test_stream_accepts_a_plain_json_reply_when_the_server_ignores_stream(server):
    server.responder = json_reply("整段回答[1]。")
    assert list(llm_for(server).stream(MESSAGES)) == ["整段回答[1]。"]


@pytest.mark.parametrize("streaming", [False, True])
def test_reply_markers_referring_to_no_excerpt_are_removed(server, streaming):
    reply = "和平区赋予街道吹哨调度权[1]，并设立了考核评价权[4]。"
    server.responder = sse_reply([reply[:10], reply[10:]]) if streaming else json_reply(reply)
    llm = llm_for(server)
    text = "".join(llm.stream(MESSAGES)) if streaming else llm.complete(MESSAGES)
    assert parse_markers(text) == [1, 4]
    cleaned, removed = validate_markers(text, valid={1, 2, 3})
    assert cleaned == "和平区赋予街道吹哨调度权[1]，并设立了考核评价权。"
    assert removed == [4]


@pytest.mark.parametrize("streaming", [False, True])
def test_timeout_raises_backend_unavailable_naming_url_and_seconds(server, streaming):
    server.responder = lambda h: server.release.wait(10)  # answers only after the test ends
    llm = llm_for(server, timeout=0.5)
    with pytest.raises(BackendUnavailableError, match=r"did not answer within 0\.5 s") as info:
        "".join(llm.stream(MESSAGES)) if streaming else llm.complete(MESSAGES)
    assert server.base_url + "/chat/completions" in str(info.value)


@pytest.mark.parametrize("streaming", [False, True])
def test_http_500_raises_backend_unavailable_with_status_and_detail(server, streaming):
    server.responder = raw_reply(500, json.dumps({"error": {"message": "CUDA out of memory"}}))
    llm = llm_for(server)
    with pytest.raises(BackendUnavailableError, match="HTTP 500.*CUDA out of memory") as info:
        "".join(llm.stream(MESSAGES)) if streaming else llm.complete(MESSAGES)
    assert server.base_url in str(info.value)


def test_http_401_names_the_problem_and_never_shows_the_key(server):
    server.responder = raw_reply(401, json.dumps({"error": {"message": f"Incorrect API key provided: {API_KEY}"}}))
    with pytest.raises(BackendUnavailableError, match="HTTP 401 \\(check the API key\\)") as info:
        llm_for(server, api_key=API_KEY).complete(MESSAGES)
    assert API_KEY not in str(info.value) and "***" in str(info.value)
    assert API_KEY not in repr(llm_for(server, api_key=API_KEY))


def test_http_404_with_a_non_json_body_suggests_checking_base_url(server):
    server.responder = raw_reply(404, "404 page not found", "text/plain")
    with pytest.raises(BackendUnavailableError, match="HTTP 404 .*base_url.*404 page not found"):
        llm_for(server).complete(MESSAGES)


def test_malformed_json_raises_generation_error(server):
    server.responder = raw_reply(200, '{"choices": [{"message": {"content": "半截')
    with pytest.raises(GenerationError, match="malformed JSON") as info:
        llm_for(server).complete(MESSAGES)
    assert server.base_url in str(info.value)


@pytest.mark.parametrize("body", ['{"id": "x"}', '{"choices": []}', '[1, 2]', '{"choices": [{"message": {}}]}'])
def test_json_without_message_content_raises_generation_error(server, body):
    server.responder = raw_reply(200, body)
    with pytest.raises(GenerationError, match="choices\\[0\\].message.content"):
        llm_for(server).complete(MESSAGES)


def test_json_error_object_with_status_200_raises_backend_unavailable(server):
    server.responder = raw_reply(200, json.dumps({"error": {"message": "model not loaded"}}))
    with pytest.raises(BackendUnavailableError, match="model not loaded"):
        llm_for(server).complete(MESSAGES)


def test_malformed_sse_event_raises_generation_error(server):
    server.responder = raw_reply(200, 'data: {"choices": [{"delta": {"content": "甲"}}]}\n\ndata: {oops\n\n',
                                 "text/event-stream")
    it = llm_for(server).stream(MESSAGES)
    with pytest.raises(GenerationError, match="malformed stream event"):
        list(it)


def test_sse_error_event_raises_backend_unavailable(server):
    server.responder = raw_reply(200, 'data: {"error": {"message": "context length exceeded"}}\n\n',
                                 "text/event-stream")
    with pytest.raises(BackendUnavailableError, match="context length exceeded"):
        list(llm_for(server).stream(MESSAGES))


def test_stream_with_no_events_raises_generation_error(server):
    server.responder = raw_reply(200, "<html>登录页面</html>", "text/html")
    with pytest.raises(GenerationError, match="no stream events"):
        list(llm_for(server).stream(MESSAGES))


def free_port() -> int:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_endpoint_raises_backend_unavailable():
    port = free_port()
    llm = OpenAICompatibleLLM(f"http://127.0.0.1:{port}/v1", "m", api_key=API_KEY, timeout=5)
    with pytest.raises(BackendUnavailableError, match=f"cannot reach .*127.0.0.1:{port}/v1/chat/completions") as info:
        llm.complete(MESSAGES)
    assert API_KEY not in str(info.value)


def test_credentials_in_base_url_are_not_shown_in_errors():
    port = free_port()
    llm = OpenAICompatibleLLM(f"http://user:s3cret@127.0.0.1:{port}/v1", "m", timeout=2)
    with pytest.raises(BackendUnavailableError) as info:
        llm.complete(MESSAGES)
    assert "s3cret" not in str(info.value) and f"127.0.0.1:{port}/v1/chat/completions" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "", "model": "m"}, "not an http"),
        ({"base_url": "127.0.0.1:8000/v1", "model": "m"}, "not an http"),
        ({"base_url": "ftp://host/v1", "model": "m"}, "not an http"),
        ({"base_url": "http://host/v1", "model": " "}, "model name is empty"),
        ({"base_url": "http://host/v1", "model": "m", "timeout": 0}, "timeout"),
    ],
)
def test_constructor_rejects_bad_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        OpenAICompatibleLLM(**kwargs)


# --- scripted fake, registry, contract -----------------------------------------------------------


def test_scripted_llm_replies_in_order_in_chunks_and_records_calls():
    llm = ScriptedLLM(["第一个回答。", "第二个"], chunk_chars=2)
    assert list(llm.stream(MESSAGES)) == ["第一", "个回", "答。"]
    assert llm.complete([{"role": "user", "content": "再问"}], temperature=0.7) == "第二个"
    assert llm.calls == [MESSAGES, [{"role": "user", "content": "再问"}]]
    assert llm.temperatures == [0.0, 0.7]
    with pytest.raises(GenerationError, match="no reply left: call 3, 2 scripted"):
        llm.complete(MESSAGES)


def test_scripted_llm_records_a_copy_of_the_messages():
    messages = [{"role": "user", "content": "原文"}]
    llm = ScriptedLLM(["答"])
    llm.complete(messages)
    messages[0]["content"] = "改了"
    assert llm.calls[0][0]["content"] == "原文"


def test_scripted_llm_raises_scripted_exceptions_while_iterating():
    llm = ScriptedLLM([BackendUnavailableError("down"), "好"])
    it = llm.stream(MESSAGES)  # like a real backend, failure surfaces on iteration
    with pytest.raises(BackendUnavailableError, match="down"):
        next(it)
    assert llm.complete(MESSAGES) == "好"


@pytest.mark.parametrize(
    "messages", [[], [{"role": "robot", "content": "x"}], [{"role": "user"}], [("user", "x")]]
)
def test_malformed_messages_are_rejected_before_any_request(messages):
    with pytest.raises(ValueError, match="message"):
        check_messages(messages)
    with pytest.raises(ValueError):
        ScriptedLLM(["x"]).stream(messages)
    with pytest.raises(ValueError):
        OpenAICompatibleLLM("http://127.0.0.1:9/v1", "m").stream(messages)


def test_make_llm_builds_registered_backends():
    assert isinstance(make_llm("scripted", replies=["好"]), ScriptedLLM)
    llm = make_llm("openai", base_url="http://127.0.0.1:8000/v1", model="qwen", api_key="k", timeout=3.0)
    assert isinstance(llm, OpenAICompatibleLLM) and llm.name == "openai:qwen"
    assert llm.url == "http://127.0.0.1:8000/v1/chat/completions"


def test_make_llm_unknown_name_lists_valid_backends():
    with pytest.raises(ConfigError, match="unknown LLM backend 'gpt'.*openai, scripted"):
        make_llm("gpt")


def test_make_llm_bad_arguments_are_a_config_error():
    with pytest.raises(ConfigError, match="bad arguments for LLM backend 'openai'.*base_url"):
        make_llm("openai", url="http://x", model="m")


@pytest.fixture(params=["scripted", "openai"])
def any_llm(request) -> LLM:
    reply = "和平区赋予街道吹哨调度权[1]。"
    if request.param == "scripted":
        return ScriptedLLM([reply, reply])
    srv = request.getfixturevalue("server")
    srv.responder = lambda h: (sse_reply([reply[:4], reply[4:]]) if srv.last["body"]["stream"] else json_reply(reply))(h)
    return llm_for(srv)


def test_every_backend_streams_text_deltas_that_join_to_complete(any_llm):
    deltas = list(any_llm.stream(MESSAGES))
    assert deltas and all(isinstance(d, str) and d for d in deltas)
    assert "".join(deltas) == any_llm.complete(MESSAGES) == "和平区赋予街道吹哨调度权[1]。"
    assert isinstance(any_llm.name, str) and any_llm.name
