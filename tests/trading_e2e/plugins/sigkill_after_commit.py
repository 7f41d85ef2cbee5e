"""A test plugin that kills the process placing an order between the commit of its acceptance
and the publish of its event: its ``check_order`` (``pre_submit`` phase, orders whose
``client_order_id`` starts with ``kill-``) arms ``events.after_commit_hooks``, so the next commit
(the broker's acknowledgement, ``ACCEPTED``) is followed by SIGKILL before anything is published.

``test_outbox_orders.py`` loads it into one real ``quarkbot serve`` (``PYTHONPATH`` on this
directory, ``QUARKBOT_PLUGIN_MODULES=sigkill_after_commit``); the product has no fault point.
"""

import os
import signal
from typing import Any

from quarkbot import events, hookimpl


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@hookimpl
def check_order(order: Any, ctx: Any) -> None:
    if ctx.phase == "pre_submit" and order.client_order_id.startswith("kill-"):
        events.after_commit_hooks.append(_kill)
