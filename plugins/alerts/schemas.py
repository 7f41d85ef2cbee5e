"""Request and response models of the alerts API."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from quarkbot.pagination import Lookup, Page, PageQuery
from quarkbot.types import DatetimeOut, Id, JsonBool, JsonInt, UtcDatetime

Severity = Literal["info", "warning", "critical"]
Condition = Literal["above", "below", "rate_of_change", "absent"]
Status = Literal["firing", "acknowledged", "resolved"]
DAY = 86_400


class RuleIn(BaseModel):
    """A rule on one metric. ``above``/``below`` compare with ``threshold`` (the current
    value, or the mean over ``window_seconds``); ``rate_of_change`` compares the change in
    percent over the window with ``threshold``; ``absent`` fires when no point was stored in
    the window."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    metric: str = Field(min_length=1, max_length=64)
    labels: dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=64)]] = {}
    condition: Condition
    threshold: float = Field(0.0, strict=True)  # a JSON number, never true/false or text
    window_seconds: JsonInt = Field(0, ge=0, le=30 * DAY)
    for_seconds: JsonInt = Field(0, ge=0, le=DAY)
    cooldown_seconds: JsonInt = Field(300, ge=0, le=7 * DAY)
    severity: Severity = "warning"
    risk: JsonBool = Field(False, description="Also publish on risk:alerts.")
    description: str = Field("", max_length=500)
    enabled: JsonBool = True

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("the threshold must be a finite number")
        return value


class RuleOut(RuleIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_by: str
    created_at: DatetimeOut
    updated_at: DatetimeOut


class RulePage(Page[RuleOut]):
    pass


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    fingerprint: str
    source: str
    rule_id: int | None
    severity: Severity
    status: Status
    message: str
    labels: dict[str, Any]
    value: float | None
    risk: bool
    started_at: DatetimeOut
    last_seen_at: DatetimeOut
    acknowledged_by: str | None
    acknowledged_at: DatetimeOut | None
    resolved_by: str | None
    resolved_at: DatetimeOut | None


class AlertPage(Page[AlertOut]):
    pass


class AlertQuery(PageQuery):
    status: Status | None = None
    severity: Severity | None = None
    source: str | None = Field(None, max_length=64)
    rule_id: Id | None = None
    since: Annotated[UtcDatetime | None, Lookup("started_at__gte")] = None
    until: Annotated[UtcDatetime | None, Lookup("started_at__lt")] = None


class TargetIn(BaseModel):
    """Where notifications go: a registered notifier and its settings (a webhook:
    ``{"url", "secret"}``; without a secret one is generated and shown once)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    notifier: str = Field(min_length=1, max_length=32)
    config: dict[str, Any] = {}
    min_severity: Severity = "info"
    enabled: JsonBool = True


class TargetOut(BaseModel):
    id: int
    name: str
    notifier: str
    config: dict[str, Any]
    min_severity: Severity
    enabled: bool
    created_by: str
    created_at: DatetimeOut


class TargetPage(Page[TargetOut]):
    pass


class NotifierInfo(BaseModel):
    name: str
    description: str


class NotifierList(BaseModel):
    items: list[NotifierInfo]
