"""A test plugin that crashes the process placing an order after the order is stored and before
the broker call: its ``check_order`` SIGKILLs its own process in the ``pre_submit`` phase.

``test_crash.py`` loads it into one real ``quarkbot serve`` with ``PYTHONPATH`` set to this
directory and ``QUARKBOT_PLUGIN_MODULES=sigkill_before_submit``; the product has no fault point.
"""

import os
import signal
from typing import Any

from quarkbot import hookimpl


@hookimpl
def check_order(order: Any, ctx: Any) -> None:
    if ctx.phase == "pre_submit":  # stored (PENDING_SUBMIT), gates passed, not yet submitted
        os.kill(os.getpid(), signal.SIGKILL)
