"""The OpenAI-compatible API of `zhibu-qa serve`, driven by the real `openai` client and plain HTTP.

Uses the session `ui_server` (no API keys: loopback only) and a second server on the same pipeline
with ZHIBU_API_KEYS set. Checks answers with exact citations (streamed and not), a refusal, a
follow-up, auth, size limits and the OpenAI error shape. Unit tests of the rate limiter and the
authorisation rules use a fake clock and fake addresses.
"""

from __future__ import annotations

import json

import pytest

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")

QUESTION = "河东区清理了多少块外部牌子？"
KEY = "test-key-0123456789"


@pytest.fixture(autouse=True)
def no_rate_limit_across_tests(request, monkeypatch):
    """The server tests share one client address; the limiter's own behaviour is unit-tested below."""
    if "limiter" not in request.node.name:
        from zhibu_qa.app.api import RateLimiter

        monkeypatch.setattr(RateLimiter, "allow", lambda self, client: True)


@pytest.fixture(scope="module")
def client(ui_server):
    return openai.OpenAI(base_url=ui_server.url + "v1", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def keyed_server(ui_server):
    """The same app with API keys set."""
    from conftest import free_port

    from zhibu_qa.app.ui import build_app, launch

    settings = ui_server.settings.replace(port=free_port(), api_keys=f"other-key,{KEY}")
    demo = build_app(ui_server.pipeline, settings, ui_server.startup, ui_server.work_dir, ui_server.answers)
    server = launch(demo, settings, ui_server.work_dir, pipeline=ui_server.pipeline, startup=ui_server.startup,
                    answers=ui_server.answers, block=False)
    yield server
    server.close()


def _extra(obj, name):
    return (obj.model_extra or {}).get(name)


def _check_quotes(pipeline, citations):
    assert citations, "an answer must cite its source"
    for c in citations:
        source = pipeline.source_for(pipeline.catalogue.article(c["article_id"]).issue_id)
        assert source[c["char_start"]:c["char_end"]] == c["quote"]


def test_models_lists_the_one_model(client):
    assert [m.id for m in client.models.list()] == ["zhibu-qa"]


def test_chat_completion_answers_with_markers_and_exact_citations(client, ui_server):
    reply = client.chat.completions.create(model="zhibu-qa", messages=[{"role": "user", "content": QUESTION}])
    message = reply.choices[0].message
    assert "169" in message.content and "[1]" in message.content
    assert _extra(message, "refused") is False
    citations = _extra(message, "citations")
    _check_quotes(ui_server.pipeline, citations)
    assert set(citations[0]) >= {"n", "article_id", "article_title", "column", "section", "authors", "quote",
                                 "char_start", "char_end", "issue", "chunk_id"}  # the `ask --json` fields
    assert reply.choices[0].finish_reason == "stop" and reply.id.startswith("chatcmpl-")


def test_streamed_completion_sends_chunks_then_citations(client, ui_server):
    chunks = list(client.chat.completions.create(model="zhibu-qa", stream=True,
                                                 messages=[{"role": "user", "content": QUESTION}]))
    assert all(c.object == "chat.completion.chunk" for c in chunks) and len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "169" in text
    last = chunks[-1].choices[0]
    assert last.finish_reason == "stop" and _extra(last.delta, "refused") is False
    _check_quotes(ui_server.pipeline, _extra(last.delta, "citations"))


def test_stream_ends_with_done(ui_server):
    body = {"model": "zhibu-qa", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with httpx.stream("POST", ui_server.url + "v1/chat/completions", json=body, timeout=120) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    assert json.loads(events[0][6:])["choices"][0]["delta"]["role"] == "assistant"


def test_a_question_the_magazine_does_not_cover_is_refused(client):
    reply = client.chat.completions.create(model="zhibu-qa",
                                           messages=[{"role": "user", "content": "2030年奥运会在哪里举办？"}])
    message = reply.choices[0].message
    assert _extra(message, "refused") is True and _extra(message, "citations") == []
    assert _extra(message, "suggestions"), "a refusal points to the closest articles"


def test_earlier_turns_are_the_history(client):
    first = "和平区下放给街道的“五权”是哪五项？"
    answer = client.chat.completions.create(model="zhibu-qa", messages=[{"role": "user", "content": first}])
    follow = client.chat.completions.create(model="zhibu-qa", messages=[
        {"role": "system", "content": "你是助手"}, {"role": "user", "content": first},
        {"role": "assistant", "content": answer.choices[0].message.content},
        {"role": "user", "content": [{"type": "text", "text": "这些权力是怎么落实的？"}]}])
    assert _extra(follow.choices[0].message, "refused") is False


def test_search_returns_hits(ui_server):
    r = httpx.post(ui_server.url + "v1/search", json={"query": QUESTION, "k": 3, "mode": "bm25"}, timeout=60)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "list" and len(body["data"]) == 3 and body["mode"] == "bm25"
    assert all({"rank", "score", "text", "article_title", "char_start"} <= set(h) for h in body["data"])


def test_without_a_key_the_keyed_server_answers_401(keyed_server):
    anonymous = openai.OpenAI(base_url=keyed_server.url + "v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        anonymous.models.list()
    assert err.value.status_code == 401 and err.value.body["code"] == "invalid_api_key"
    r = httpx.post(keyed_server.url + "v1/chat/completions", json={"messages": []}, timeout=30)
    assert r.status_code == 401 and set(r.json()["error"]) >= {"message", "type", "code"}
    keyed = openai.OpenAI(base_url=keyed_server.url + "v1", api_key=KEY, max_retries=0, timeout=120)
    assert [m.id for m in keyed.models.list()] == ["zhibu-qa"]
    reply = keyed.chat.completions.create(model="zhibu-qa", messages=[{"role": "user", "content": QUESTION}])
    assert "169" in reply.choices[0].message.content


def test_an_oversized_request_is_413(client):
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="zhibu-qa", messages=[{"role": "user", "content": "问" * 300_000}])
    assert err.value.status_code == 413 and err.value.body["code"] == "request_too_large"


@pytest.mark.parametrize("body, code", [
    ("not json", "invalid_json"), ("[1, 2]", "invalid_json"),
    ({"messages": "hi"}, "invalid_value"), ({"messages": []}, "invalid_value"),
    ({"messages": [{"role": "assistant", "content": "x"}]}, "invalid_value"),
    ({"messages": [{"role": "user", "content": 5}]}, "invalid_value"),
    ({"messages": [{"role": "user", "content": QUESTION}], "mode": "naive"}, "invalid_value"),
    ({"messages": [{"role": "user", "content": QUESTION}], "k": 100000}, "invalid_value"),
    ({"messages": [{"role": "user", "content": QUESTION}], "stream": "yes"}, "invalid_value"),
    ({"messages": [{"role": "user", "content": ""}]}, "invalid_value"),
    ({"messages": [{"role": "user", "content": "问" * 600}]}, "invalid_value"),
    ({"model": "gpt-4", "messages": [{"role": "user", "content": QUESTION}]}, "model_not_found"),
])
def test_malformed_requests_get_an_openai_error(ui_server, body, code):
    data = body if isinstance(body, str) else json.dumps(body)
    r = httpx.post(ui_server.url + "v1/chat/completions", content=data.encode(),
                   headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code in (400, 404)
    error = r.json()["error"]
    assert error["code"] == code and error["message"] and error["type"]


def test_malformed_request_through_the_openai_client_is_a_bad_request(client):
    with pytest.raises(openai.BadRequestError, match="检索方式只能是"):
        client.chat.completions.create(model="zhibu-qa", messages=[{"role": "user", "content": QUESTION}],
                                       extra_body={"mode": "naive"})


# ---- unit tests of the rules -------------------------------------------------------------------

def test_rate_limiter_allows_a_burst_then_refills():
    from zhibu_qa.app.api import RateLimiter

    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=3, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b"), "clients have their own buckets"
    now[0] += 1.0  # one token a second
    assert limiter.allow("a") and not limiter.allow("a")


def test_without_keys_only_loopback_clients_are_served():
    from types import SimpleNamespace

    from zhibu_qa.app.api import Api, ApiError

    api = Api(None, None, SimpleNamespace(), None)
    assert api.authorise(None, "127.0.0.1") == "ip:127.0.0.1"
    with pytest.raises(ApiError) as err:
        api.authorise(None, "10.0.0.5")
    assert err.value.status == 403
    keyed = Api(None, None, SimpleNamespace(), None, keys=("k1",))
    assert keyed.authorise("Bearer k1", "10.0.0.5").startswith("key:")
    for header in (None, "Bearer k2", "k1", "Basic k1"):
        with pytest.raises(ApiError) as err:
            keyed.authorise(header, "127.0.0.1")
        assert err.value.status == 401


def test_messages_become_question_and_history():
    from zhibu_qa.app.api import ApiError, parse_messages
    from zhibu_qa.types import Turn

    q, history = parse_messages([{"role": "system", "content": "s"}, {"role": "user", "content": "a"},
                                 {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}])
    assert (q, history) == ("c", [Turn("a", "b")])
    with pytest.raises(ApiError):
        parse_messages([{"role": "user", "content": "x"}] * 100)


def test_keys_sharing_a_prefix_get_their_own_rate_limit_buckets():
    from types import SimpleNamespace

    from zhibu_qa.app.api import Api

    api = Api(None, None, SimpleNamespace(), None, keys=("shared-prefix-key-1", "shared-prefix-key-2"))
    first = api.authorise("Bearer shared-prefix-key-1", "10.0.0.1")
    second = api.authorise("Bearer shared-prefix-key-2", "10.0.0.1")
    assert first != second and "shared-prefix" not in first
