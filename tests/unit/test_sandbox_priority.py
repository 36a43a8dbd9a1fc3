"""The sandbox's servers get a raised priority on every thread, so a busy machine slows the
tests rather than starving Asterisk and Redis."""

from __future__ import annotations

import os
import subprocess
import sys

from devtools.sandbox.processes import prioritise

_THREADED = ("import threading, time\n"
             "for _ in range(3): threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
             "print('ready', flush=True)\n"
             "time.sleep(60)\n")


def test_every_thread_of_the_process_gets_the_nice_value():
    child = subprocess.Popen([sys.executable, "-c", _THREADED], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        tids = [int(t) for t in os.listdir(f"/proc/{child.pid}/task")]
        assert len(tids) == 4
        assert prioritise(child.pid, nice=7) == 4
        assert {os.getpriority(os.PRIO_PROCESS, tid) for tid in tids} == {7}
        assert prioritise(child.pid, nice=7) == 0  # already there: nothing to change
    finally:
        child.kill()
        child.wait()


def test_a_process_that_is_gone_changes_nothing():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: /proc no longer lists it
    assert prioritise(child.pid) == 0
