"""The live view in a real browser: `cosim serve --http-port` in its own
process, headless Chromium driven by Selenium, the line twin as the system.

What the page shows is read from the browser (Bokeh's models in the page),
what the system did from the gRPC client: the two must agree.
"""

from __future__ import annotations

import html
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from web_browser import Browser

import cosim
from cosim import twins
from cosim.rpc import Client
from rpc_servers import ServerProcess, self_signed

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples" / "line_twin"))
from line_twin import build_line  # noqa: E402

TOKEN = "w3b-t0ken"


@pytest.fixture(scope="module")
def server(tmp_path_factory, test_fmus):
    """`cosim serve` with the live view, its root holding the line twin and a
    system whose gain fails at t = 5 s."""
    root = tmp_path_factory.mktemp("root")
    build_line().save(root / "line.ssp")
    failing = cosim.System("failing")
    failing.add("source", twins.path("source"))
    failing.add("fails", test_fmus("failing_gain"), parameters={"fail_time": 5.0})
    failing.connect("source.y", "fails.u")
    failing.save(root / "failing.ssp")
    process = ServerProcess(["serve", "--root", root, "--token", TOKEN, "--http-port", "0"])
    try:
        line = process.proc.stdout.readline()
        match = re.search(r"live view on (http://\S+)", line)
        assert match, f"the server did not print the live view's address: {line!r}"
        process.web = match.group(1)
        assert process.web.endswith(f"?token={TOKEN}")
        process.base = process.web.split("?")[0]
        yield process
    finally:
        process.kill()


@pytest.fixture
def client(server):
    with Client(server.url, token=TOKEN) as c:
        yield c


@pytest.fixture
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture
def line(client):
    system = client.create_system(path="line.ssp", name="line")
    yield system
    system.terminate()


def open_system(browser, server, system) -> None:
    browser.open(f"{server.web}&system={system.id}")
    browser.wait(lambda: system.id in (browser.text("systems") or ""), "the system listed")
    browser.wait(lambda: "state" in (browser.text("status") or ""), "the system's status")


def initialize(browser, factor: str, step: str = "1") -> None:
    browser.type("step", step)
    browser.type("factor", factor)
    browser.click("initialize")
    browser.wait(lambda: "initialized" in (browser.text("message") or ""),
                 "the system initialized")


def expect(browser, *texts: str, timeout: float = 30.0) -> None:
    """Wait until the page's message says every one of ``texts``."""
    try:
        browser.wait(lambda: all(t in message(browser) for t in texts), f"the message {texts}",
                     timeout=timeout)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the message: {message(browser)!r}") from None


def message(browser) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", browser.text("message") or ""))


def test_the_page_lists_the_system_plots_it_running_and_pauses_it(server, client, line, browser):
    open_system(browser, server, line)
    listed = browser.text("systems")
    assert "line" in listed and line.id in listed
    initialize(browser, factor="20")
    browser.type("until", "100000")
    browser.click("run")
    browser.wait(lambda: "running" in browser.text("status"), "the system running")
    first = browser.wait(lambda: browser.points("series") > 5 and browser.points("series"),
                         "points on the plot")
    browser.wait(lambda: browser.points("series") > first + 5, "more points as the system runs")
    # Decimated on the server: far fewer points than steps, never one message per step.
    browser.wait(lambda: "real-time factor" in browser.text("systems"), "the figures")
    browser.click("pause")
    browser.wait(lambda: "paused at" in message(browser), "the run paused")
    time_a = line.status().time
    time.sleep(1.0)
    assert line.status().time == time_a > 0      # paused: time stands still
    shown = float(re.search(r"t = ([0-9.e+]+)", re.sub(r"<[^>]+>", "", browser.text("status")))[1])
    assert shown == pytest.approx(time_a)


def test_an_input_set_on_the_page_moves_the_twin(server, line, browser):
    open_system(browser, server, line)
    initialize(browser, factor="0")
    browser.driver.execute_script(
        "Bokeh.documents[0].get_model_by_name('variables').value = ['spindle.speed'];")
    browser.type("until", "60")
    browser.click("run")
    browser.wait(lambda: "reached t=60" in message(browser), "the run to 60 s")
    browser.wait(lambda: browser.points("series") > 10, "the speed plotted")
    before = browser.column("series", "y0")[-1]
    assert before == pytest.approx(9000, rel=0.05)
    browser.type("set_name", "spindle.speed_setpoint")
    browser.type("set_value", "3000")
    browser.click("set")
    browser.wait(lambda: "set spindle.speed_setpoint = 3000" in message(browser), "the set")
    browser.type("until", "120")
    browser.click("run")
    browser.wait(lambda: "reached t=120" in message(browser), "the run to 120 s")
    browser.wait(lambda: browser.column("series", "t")[-1] >= 119, "the new points")
    assert browser.column("series", "y0")[-1] == pytest.approx(3000, rel=0.05)
    # A what-if from here with the setpoint back at 6000, overlaid; the system stays at 120 s.
    browser.type("set_value", "6000")
    browser.type("fork_until", "200")
    browser.click("fork")
    expect(browser, "what-if to t=200 s (spindle.speed_setpoint = 6000) drawn dashed")
    browser.wait(lambda: browser.points("what_if") > 10, "the what-if drawn")
    assert browser.column("what_if", "t")[-1] == pytest.approx(200)
    assert browser.column("what_if", "y0")[-1] == pytest.approx(6000, rel=0.05)
    assert line.status().time == pytest.approx(120)
    assert line.get(["spindle.speed_setpoint"])["spindle.speed_setpoint"] == 3000


def test_without_the_token_nothing_is_shown(server, line, browser):
    for url in (server.base, f"{server.base}?token=wrong", f"{server.base}?system={line.id}"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10)
        assert refused.value.code == 403
        assert b"access refused" in refused.value.read()
    browser.open(f"{server.base}?token=not-{TOKEN}")
    text = browser.body_text()
    assert "access refused" in text and line.id not in browser.source()
    # The token is kept in a cookie: a link without it works once the page was opened with it.
    browser.open(server.web)
    browser.wait(lambda: line.id in (browser.text("systems") or ""), "the system listed")
    browser.open(f"{server.base}?system={line.id}")
    browser.wait(lambda: line.id in (browser.text("systems") or ""), "the system, by the cookie")


def test_every_asset_comes_from_the_server(server, line):
    page = urllib.request.urlopen(server.web, timeout=10).read().decode()
    addresses = set(re.findall(r"(?:src|href)=[\"']([^\"']+)", page))
    assert addresses, "the page loads no script"
    for address in addresses:
        assert address.startswith(("/", server.base)), f"the page loads {address} from elsewhere"
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost)", page)


def test_bad_inputs_show_an_error_and_the_server_goes_on(server, client, line, browser):
    browser.open(f"{server.web}&system=nonexistent")
    expect(browser, "Error", "no system 'nonexistent'")
    assert line.id in browser.text("systems")      # the list is still there
    open_system(browser, server, line)
    browser.click("set")
    expect(browser, "Error", "give the input or tunable parameter to set")
    browser.type("set_name", "spindle.speed_setpoint")
    browser.type("set_value", "7000")
    browser.click("set")
    expect(browser, "Error", "not initialized")
    initialize(browser, factor="0")
    browser.type("set_name", "spindle.no_such_input")
    browser.type("set_value", "1")
    browser.click("set")
    expect(browser, "Error", "spindle.no_such_input", "no variable 'no_such_input'")
    browser.type("set_name", "spindle.speed_setpoint")
    browser.type("set_value", "fast")
    browser.click("set")
    expect(browser, "Error", "'fast' is not a number")
    browser.type("until", "-5")
    browser.click("run")
    expect(browser, "Error", "time must be >= 0, got -5")
    browser.type("factor", "-1")
    browser.click("initialize")
    expect(browser, "Error", "real-time factor must be >= 0, got -1")
    browser.type("factor", "0")
    browser.click("initialize")
    expect(browser, "Error", "is already initialized")
    browser.type("set_value", "7000")
    browser.type("fork_until", "0")
    browser.click("fork")
    expect(browser, "Error", "0 s is not after the current time")
    browser.type("fork_until", "later")
    browser.click("fork")
    expect(browser, "Error", "what-if until: 'later' is not a number")
    # The server still serves the page and the gRPC calls.
    browser.type("until", "10")
    browser.click("run")
    expect(browser, "reached t=10")
    assert line.status().time == pytest.approx(10)


def test_cosim_dashboard_shows_one_system_file(tmp_path, browser):
    build_line().save(tmp_path / "line.ssp")
    process = subprocess.Popen([sys.executable, "-m", "cosim", "dashboard", "line.ssp",
                                "--http-port", "0"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"live view of line.ssp on (http://\S+\?token=\S+)", line)
        assert match, f"no address printed: {line!r}"
        browser.open(match.group(1))
        browser.wait(lambda: "line" in (browser.text("status") or ""), "the system shown")
        initialize(browser, factor="0")
        browser.type("until", "30")
        browser.click("run")
        expect(browser, "reached t=30")
        browser.wait(lambda: browser.points("series") >= 30, "the run plotted")
    finally:
        process.terminate()
        assert process.wait(10) == 0


def test_cosim_dashboard_refuses_a_missing_file(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cosim", "dashboard", "nothing.ssp"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "nothing.ssp: no such system file" in done.stderr


def test_on_every_interface_the_page_works_by_the_machine_name(tmp_path, browser):
    build_line().save(tmp_path / "line.ssp")
    process = ServerProcess(["serve", "--root", tmp_path, "--host", "0.0.0.0", "--token", TOKEN,
                             "--http-port", "0"])
    try:
        line = process.proc.stdout.readline()
        port = int(re.search(r"live view on http://127\.0\.0\.1:(\d+)/", line)[1])
        with Client(f"grpc://127.0.0.1:{process.port}", token=TOKEN) as client:
            system = client.create_system(path="line.ssp")
            name = socket.gethostname()
            browser.open(f"http://{name}:{port}/?token={TOKEN}")
            # The list comes over the web socket, which Bokeh opens only from known origins.
            browser.wait(lambda: system.id in (browser.text("systems") or ""),
                         f"the system listed on a page loaded from {name}")
    finally:
        process.kill()


def test_with_tls_the_view_is_served_over_https_with_a_secure_cookie(tmp_path):
    cert, key = self_signed(tmp_path)
    process = ServerProcess(["serve", "--root", tmp_path, "--token", TOKEN, "--tls-cert", cert,
                             "--tls-key", key, "--http-port", "0"])
    try:
        line = process.proc.stdout.readline()
        match = re.search(r"live view on (https://127\.0\.0\.1:\d+/\?token=\S+)", line)
        assert match, line
        context = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(match.group(1), context=context, timeout=10) as page:
            cookie = page.headers["Set-Cookie"]
        assert f"={TOKEN}" in cookie and "Secure" in cookie and "HttpOnly" in cookie
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(match.group(1).split("?")[0], context=context, timeout=10)
        assert refused.value.code == 403
    finally:
        process.kill()


def test_a_busy_http_port_is_a_one_line_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "cosim", "serve", "--root", str(tmp_path),
                               "--port", "0", "--http-port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"cosim: error: --http-port {port}: cannot serve the web view" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_component_with_stale_live_inputs_is_drawn_stale(server, line, browser):
    line.initialize(step_size=0.01, realtime=1.0,
                    live_inputs=[{"name": "spindle.speed_setpoint", "max_age": 0.05}])
    open_system(browser, server, line)
    browser.type("until", "30")
    browser.click("run")

    def health():
        names = browser.column("nodes", "name")
        return dict(zip(names, browser.column("nodes", "health")))
    browser.wait(lambda: health().get("spindle") == "stale", "the spindle drawn stale")
    assert health()["furnace"] in ("ok", "late")          # its inputs are connections
    assert "stale inputs: spindle.speed_setpoint" in html.unescape(browser.text("status"))
    browser.click("pause")
    expect(browser, "paused at")


def test_the_web_socket_sends_nothing_without_the_token(server):
    """Bokeh completes the handshake, then checks the cookie and the signed
    session token: without them it closes the socket having sent no message."""
    host, port = server.base.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                     f"Connection: Upgrade\r\nOrigin: http://{host}:{port}\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Protocol: bokeh, forged-session-token\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        received = b""
        while chunk := conn.recv(4096):
            received += chunk
    head, _, frames = received.partition(b"\r\n\r\n")
    assert frames == b"" or frames[0] == 0x88, frames[:80]     # nothing, or a close frame


def test_a_failed_component_is_drawn_failed_and_named(server, client, browser):
    system = client.create_system(path="failing.ssp")
    try:
        open_system(browser, server, system)
        initialize(browser, factor="0", step="0.1")
        browser.type("until", "10")
        browser.click("run")
        expect(browser, "Error", "run:", "fails")
        browser.wait(lambda: dict(zip(browser.column("nodes", "name"),
                                      browser.column("nodes", "health"))).get("fails") == "failed",
                     "the failing component drawn failed")
        browser.wait(lambda: ">failed<" in browser.text("systems"), "the system listed failed")
        assert system.status().time == pytest.approx(5.0, abs=0.11)
    finally:
        system.terminate()
