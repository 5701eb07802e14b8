"""The served app's edge: security headers, the Host check, body caps, login throttling, hidden docs.

Real servers on 127.0.0.1 (the session `ui_server`, and one with a login on the same pipeline),
called with plain HTTP; the throttle's timing rules are unit-tested with a fake clock.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

httpx = pytest.importorskip("httpx")
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def login_server(ui_server):
    from conftest import free_port

    from zhibu_qa.app.ui import build_app, launch

    settings = ui_server.settings.replace(port=free_port(), auth_user="admin", auth_password="s3cret-pass")
    demo = build_app(ui_server.pipeline, settings, ui_server.startup, ui_server.work_dir, ui_server.answers)
    server = launch(demo, settings, ui_server.work_dir, pipeline=ui_server.pipeline, startup=ui_server.startup,
                    answers=ui_server.answers, block=False)
    yield server
    server.close()


@pytest.mark.parametrize("path", ["", "theme.css", "v1/models", "gradio_api/info", "no-such-page"])
def test_every_response_carries_the_security_headers(ui_server, path):
    r = httpx.get(ui_server.url + path, timeout=30)
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert "http" not in csp, "the policy names no other host"
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"


def test_a_foreign_host_header_is_refused_on_loopback(ui_server):
    port = urlparse(ui_server.url).port
    assert httpx.get(ui_server.url, headers={"Host": f"evil.example:{port}"}, timeout=30).status_code == 421
    assert httpx.get(ui_server.url, headers={"Host": "attacker.com"}, timeout=30).status_code == 421
    assert httpx.get(ui_server.url, headers={"Host": f"localhost:{port}"}, timeout=30).status_code == 200


def test_oversized_event_bodies_are_refused_before_reading(ui_server):
    r = httpx.post(ui_server.url + "gradio_api/queue/join", content=b"x" * (2 * 1024 * 1024),
                   headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 413


def test_no_docs_or_openapi_without_login(login_server):
    for path in ("openapi.json", "docs", "redoc", "gradio_api/info", "gradio_api/openapi.json"):
        r = httpx.get(login_server.url + path, timeout=30)
        assert r.status_code in (401, 403, 404), path
        assert "paths" not in r.text and "named_endpoints" not in r.text, path


def test_wrong_passwords_are_throttled_per_client(login_server):
    login = login_server.url + "login"
    codes = [httpx.post(login, data={"username": "admin", "password": f"guess{i}"}, timeout=30).status_code
             for i in range(6)]
    assert codes[:5] == [400] * 5 and codes[5] == 429
    locked = httpx.post(login, data={"username": "admin", "password": "s3cret-pass"}, timeout=30)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1


def test_login_throttle_locks_out_doubles_and_resets():
    from zhibu_qa.app.server import LoginThrottle

    now = [0.0]
    t = LoginThrottle(free_tries=3, lock_s=10, max_lock_s=25, clock=lambda: now[0])
    for _ in range(2):
        t.failed("a")
    assert t.retry_after("a") == 0
    t.failed("a")
    assert t.retry_after("a") == 10 and t.retry_after("b") == 0
    now[0] += 10
    t.failed("a")
    assert t.retry_after("a") == 20
    t.failed("a")
    assert t.retry_after("a") == 25  # capped
    t.succeeded("a")
    assert t.retry_after("a") == 0


def test_host_helpers():
    from zhibu_qa.app.server import host_of, is_loopback

    assert [host_of(h) for h in ("LocalHost:7860", "[::1]:80", "127.0.0.1", "a.b:1")] == [
        "localhost", "::1", "127.0.0.1", "a.b"]
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_a_taken_or_invalid_port_is_a_one_line_error():
    import socket

    from zhibu_qa.app.server import check_port_free
    from zhibu_qa.errors import ConfigError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(ConfigError, match="cannot listen on 127.0.0.1"):
            check_port_free("127.0.0.1", s.getsockname()[1])
    with pytest.raises(ConfigError, match="out of range"):
        check_port_free("127.0.0.1", 99999)


def test_exposure_without_login_or_keys_is_warned():
    from zhibu_qa.app.ui import start_warnings
    from zhibu_qa.config import Settings

    exposed = start_warnings(Settings(host="0.0.0.0"))
    assert any(w.startswith("WARNING") and "WITHOUT a login" in w for w in exposed)
    assert any("ZHIBU_API_KEYS" in w for w in exposed)
    assert start_warnings(Settings(host="127.0.0.1", api_keys="k")) == []
    assert not any("login" in w for w in start_warnings(Settings(host="0.0.0.0", auth_user="u", auth_password="p")))
