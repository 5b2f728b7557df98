"""The run command's supervisor with real short-lived processes: restarts with back-off, gives up on a crash loop."""

from __future__ import annotations

import re
import sys
import time

import pytest

from devenv import run
from devenv.run import GaveUp, Launcher


def _supervise_until_gave_up(launcher: Launcher, timeout: float = 30.0) -> GaveUp:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            launcher.supervise()
        except GaveUp as exc:
            return exc
        time.sleep(0.02)
    pytest.fail("the supervisor never gave up")


def test_a_child_that_keeps_dying_is_restarted_with_back_off_then_given_up_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run, "FIRST_DELAY", 0.01)
    launcher = Launcher()
    launcher.start("crasher", [sys.executable, "-c", "raise SystemExit(3)"], {})
    try:
        gave_up = _supervise_until_gave_up(launcher)
    finally:
        launcher.stop()

    assert re.match(r"crasher exited with status 3 after \d+s; ", str(gave_up))
    assert f"failed {run.GIVE_UP_AFTER} times in a row" in str(gave_up)
    err = capsys.readouterr()
    restarts = [line for line in err.err.splitlines() if line.startswith("run: crasher exited with status 3")]
    assert [line.rsplit(" ", 3)[1:] for line in restarts] == [
        [f"{0.01 * 2**n:g}s", "(restart", f"{n})"] for n in range(1, run.GIVE_UP_AFTER)
    ]
    assert err.out.count("run: crasher restarted") == run.GIVE_UP_AFTER - 1


def test_a_child_that_ran_a_while_starts_its_quick_failure_count_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "FIRST_DELAY", 0.01)
    monkeypatch.setattr(run, "QUICK_FAILURE", 0.5)
    launcher = Launcher()
    # Lives 0.7 s (longer than "quick") every time: restarted forever, never given up on.
    launcher.start("sleeper", [sys.executable, "-c", "import time; time.sleep(0.7)"], {})
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            launcher.supervise()
            time.sleep(0.02)
        (child,) = launcher.children
        assert child.restarts >= run.GIVE_UP_AFTER and child.quick_failures == 0
    finally:
        launcher.stop()
