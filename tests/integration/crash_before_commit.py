"""A projector process that dies by SIGKILL after its first store write: before committing,
or (CRASH_BEFORE=fanout) before even feeding the owner index and the changelog.

Started by test_crash_recovery.py with the test's settings in the environment.
"""

import os
import signal
import sys

from cli.main import main
from projector.consumer import Projector
from projector.fanout import FanoutBatch


async def _die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


if os.environ.get("CRASH_BEFORE") == "fanout":
    FanoutBatch.add = _die
else:
    Projector._commit = _die
sys.exit(main(["projector"]))
