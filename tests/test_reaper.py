"""SIGTERM closes the servers we started, then the process still dies of SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = """
import signal, sys, time
from pathlib import Path
from pytest_selfslo._core import reaper

class Server:
    def __init__(self, name):
        self.name = name
    def close(self):
        Path(sys.argv[1], self.name).write_text("closed")

if sys.argv[2] == "own-handler":
    signal.signal(signal.SIGTERM, lambda *a: (Path(sys.argv[1], "own").write_text("x"), sys.exit(3)))
kept, gone = Server("kept"), Server("gone")
reaper.register(kept)
reaper.register(gone)
reaper.unregister(gone)          # closed normally before the signal
print("ready", flush=True)
time.sleep(60)
"""


def _run(tmp_path: Path, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CHILD), str(tmp_path), mode],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    return proc


def test_sigterm_closes_registered_servers_and_still_terminates(tmp_path: Path) -> None:
    proc = _run(tmp_path, "default")
    assert proc.returncode == -signal.SIGTERM
    assert (tmp_path / "kept").read_text() == "closed"
    assert not (tmp_path / "gone").exists()


def test_an_existing_sigterm_handler_is_left_alone(tmp_path: Path) -> None:
    proc = _run(tmp_path, "own-handler")
    assert proc.returncode == 3
    assert (tmp_path / "own").exists()
    assert not (tmp_path / "kept").exists()


def test_registering_from_a_thread_installs_nothing() -> None:
    import threading

    from pytest_selfslo._core import reaper

    before = signal.getsignal(signal.SIGTERM)

    class Dummy:
        def close(self) -> None:
            pass

    dummy = Dummy()
    worker = threading.Thread(target=reaper.register, args=(dummy,))
    worker.start()
    worker.join()
    reaper.unregister(dummy)
    assert signal.getsignal(signal.SIGTERM) is before
