"""Browser fixtures (a pytest plugin loaded by tests/conftest.py, so every test package shares ONE
Playwright session): real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against a live server.

Screenshots land in var/screenshots/ so a person can open them."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"  # <worktree>/var (gitignored)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


def pytest_collection_modifyitems(config, items):
    """Tests marked `browser` run last, and skip, with the reason, where Debian's chromium is not
    installed. Last, because the one Playwright session keeps an event loop in the test thread
    from its first use to the end of the run, and tests that call async_to_sync from that thread
    (the websocket tests in tests/apps/core) must not run after it, wherever they are collected."""
    items.sort(
        key=lambda item: item.get_closest_marker("browser") is not None or "chromium" in item.fixturenames
    )
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(
        reason="Debian chromium not installed at /usr/bin/chromium (make browser installs it)"
    )
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make in
    # that thread are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(live_server, page):
    def _login(username: str, password: str):
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        return page

    return _login


@pytest.fixture
def screenshot(page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _shot(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


DEMO_SETTINGS = "tradingsite.settings.demo"  # what `make demo` passes


@dataclass
class DemoDesk:
    url: str
    log_path: Path
    database: Path  # the desk's own SQLite file (tests may read it; the desk writes it)
    env: dict  # the desk's environment (its DATABASE_URL, REPLAY_SECONDS_PER_BAR, ...)
    port: int
    proc: subprocess.Popen | None = None

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """`manage.py ARGS --settings tradingsite.settings.demo` in a second process against the
        running desk's database, as the README tells an operator to (e.g. `killswitch stop`)."""
        return subprocess.run(
            [sys.executable, "manage.py", *args, "--settings", DEMO_SETTINGS],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self) -> None:
        """`rundesk --demo` on this desk's port and database, until /healthz answers 200."""
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "rundesk", "--demo", "--settings", DEMO_SETTINGS]
                + ["--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 240
        while http_status(f"{self.url}/healthz") != 200:
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "no healthy /healthz within 240 s"
            time.sleep(0.25)

    def stop(self) -> None:
        """SIGTERM the desk's process group (SIGKILL after 15 s)."""
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        """Stop the desk and start it again on the same port and database (a server restart)."""
        self.stop()
        self.start()


@pytest.fixture
def demo_replay_seconds_per_bar() -> float:
    """Wall seconds per replayed hour of the demo desk (a test module overrides this fixture)."""
    return 10.0


@pytest.fixture
def demo_desk(tmp_path, demo_replay_seconds_per_bar):
    """What `make demo` runs (`manage.py rundesk --demo` with the demo settings: migrate, real
    fixtures, demo users, the demo paper account, web + embedded worker and beat in one process,
    the replay clock running) on a fresh SQLite file, until /healthz answers 200."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log_path, database = tmp_path / "desk.log", tmp_path / "demo.sqlite3"
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env["DATABASE_URL"] = f"sqlite:///{database}"
    env["REPLAY_SECONDS_PER_BAR"] = str(demo_replay_seconds_per_bar)
    log_path.write_text("")
    desk = DemoDesk(url=f"http://127.0.0.1:{port}", log_path=log_path, database=database, env=env, port=port)
    try:
        desk.start()
        yield desk
    finally:
        desk.stop()
