"""The public surface of alerts: the only module other plugins may import.

- ``await raise_alert(fingerprint, source, severity, message, labels=..., value=...,
  risk=False, cooldown=0)`` -> ``(alert or None, created)``: raise (or see again) an alert
  of your own, deduplicated by ``fingerprint`` (prefix it with your plugin's name); published
  on ``alerts`` and notified like any other
- ``await resolve_alert(fingerprint, by)``: resolve the open alert of that fingerprint, if any
- ``SEVERITIES``: ``info``, ``warning``, ``critical``
"""

from __future__ import annotations

from quarkbot_plugins.alerts.lifecycle import SEVERITIES, raise_alert
from quarkbot_plugins.alerts.lifecycle import resolve_fingerprint as resolve_alert

__all__ = ["SEVERITIES", "raise_alert", "resolve_alert"]
