"""Structured logs: one JSON object per line (structlog), or a readable console in a terminal.

``configure()`` (called by the ``quarkbot`` command line for every process it starts) routes
the standard ``logging`` records of the host, its plugins and libraries through structlog's
formatter, so ``logging.getLogger(__name__)`` keeps working everywhere. Context bound for the
current task appears in every record it logs: the request id and the user in a request
(``bind_request``), the job id and name in a job (``bind_job``).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal

Format = Literal["json", "console", "auto"]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Writes to whatever ``sys.stderr`` is at the time (a test runner may swap it)."""

    _quarkbot = True

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override,unused-ignore]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _renderer(fmt: Format) -> Any:
    import structlog

    if fmt == "console" or (fmt == "auto" and sys.stderr.isatty()):
        return structlog.dev.ConsoleRenderer()
    return structlog.processors.JSONRenderer()


def configure(level: int | str = logging.INFO, fmt: Format = "auto", stream: Any = None) -> None:
    """Send every log record to ``stream`` (stderr) as JSON, or pretty in a terminal."""
    import structlog

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _renderer(fmt),
        ],
    )
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler._quarkbot = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter)
    root = logging.getLogger()
    # replace only a handler installed here before (a test runner's handlers stay)
    for old in [h for h in root.handlers if getattr(h, "_quarkbot", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # arq logs every job start, finish and health record at INFO (several lines a second from
    # the crons); runs are recorded and published by quarkbot.jobs already. Failures still show.
    # At DEBUG they are shown too.
    number = logging.getLevelName(level) if isinstance(level, str) else level
    number = int(number)
    logging.getLogger("arq").setLevel(
        number if number <= logging.DEBUG else max(logging.WARNING, number)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def bind_request(request_id: str, user: str | None = None) -> None:
    """The context of one request (a task of its own): earlier bindings are dropped."""
    import structlog

    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    if user is not None:
        structlog.contextvars.bind_contextvars(user=user)


def bind_user(user: str | None) -> None:
    import structlog

    if user is not None:
        structlog.contextvars.bind_contextvars(user=user)


def bind_job(job_id: str, name: str) -> None:
    """The context of one job run (arq runs each job in a task of its own)."""
    import structlog

    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job_id=job_id, job=name)
