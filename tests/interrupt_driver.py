"""``panacea evaluate`` through its console entry point, paused at one named point (for
``test_interrupt.py``): on reaching POINT it writes its pid to READY and sleeps, so that the test
sends a real signal from outside at exactly that point. Mid-write points pause with half of the
file's bytes in its temporary file.

Usage: python interrupt_driver.py POINT READY [evaluate arguments...]; POINT ``none`` runs through.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import panacea.cli as cli
import panacea.core.files as io
from panacea.cli._common import StageProgress

# The file whose writing each mid-write point interrupts (the first one written of that name).
MID_WRITE = {
    "recipe": "recipe.safetensors",  # the cache, after calibration
    "capture": "capture.safetensors",  # the cache, after a scheme's evaluation and capture
    "results": "results.json",
    "report": "fig15_energy_breakdown.png",  # rendering the report
}


def _pause(ready: Path) -> None:
    io.atomic_write(ready, str(os.getpid()).encode())
    time.sleep(600)  # the test's signal ends this


def main() -> None:
    point, ready, args = sys.argv[1], Path(sys.argv[2]), sys.argv[3:]
    # A background job of a non-interactive shell (a CI script, `make test &`) starts with SIGINT
    # ignored, and Python then installs no Ctrl-C handler; a user at a terminal has it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if point == "calibration":
        progress = StageProgress.__call__

        def hooked(self, stage, done, total):
            progress(self, stage, done, total)
            if stage == "observe" and done == 1:  # the first calibration batch has been observed
                _pause(ready)

        StageProgress.__call__ = hooked
    elif point in MID_WRITE:
        fill = io._fill

        def hooked(fd, tmp, data, path):
            if path.name == MID_WRITE[point]:  # half of the bytes, from bytes or a streaming writer
                fill(fd, tmp, data, path)
                os.truncate(tmp, tmp.stat().st_size // 2)
                _pause(ready)
            fill(fd, tmp, data, path)

        io._fill = hooked
    elif point != "none":
        raise SystemExit(f"unknown point {point!r}")
    sys.argv = ["panacea", "evaluate", *args]
    cli.run()


if __name__ == "__main__":
    main()
