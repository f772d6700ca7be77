"""A projector process that dies by SIGKILL after its first store write, before committing.

Started by test_crash_recovery.py with the test's settings in the environment.
"""

import os
import signal
import sys

from deploystatus.cli import main
from projector.consumer import Projector


async def _die_instead_of_committing(self, batch):
    os.kill(os.getpid(), signal.SIGKILL)


Projector._commit = _die_instead_of_committing
sys.exit(main(["projector"]))
