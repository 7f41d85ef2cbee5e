"""Request and response models of the metrics API (the seed's shapes: plain lists of points)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, RootModel

from quarkbot.types import DatetimeOut, Timeframe, UtcDatetime

Aggregation = Literal["avg", "min", "max", "sum", "count"]


class MetricInfo(BaseModel):
    name: str
    kind: Literal["counter", "gauge", "histogram"]
    unit: str
    labels: list[str]
    description: str
    plugin: str
    sampled: bool
    prometheus: str


class Catalogue(RootModel[list[MetricInfo]]):
    pass


class HistoryQuery(BaseModel):
    """``start_time``/``end_time`` (default the last 24 h), ``aggregation`` per ``interval``
    bucket; any other parameter filters on a label (``?status=FILLED``)."""

    model_config = ConfigDict(extra="allow")

    start_time: UtcDatetime | None = None
    end_time: UtcDatetime | None = None
    aggregation: Aggregation = "avg"
    interval: Timeframe = "1h"

    def labels(self) -> dict[str, str]:
        return {key: str(value) for key, value in (self.model_extra or {}).items()}


class LatestQuery(BaseModel):
    """Label filters only (``?status=FILLED``)."""

    model_config = ConfigDict(extra="allow")

    def labels(self) -> dict[str, str]:
        return {key: str(value) for key, value in (self.model_extra or {}).items()}


class Point(BaseModel):
    timestamp: DatetimeOut
    value: float | None


class History(RootModel[list[Point]]):
    pass


class Latest(BaseModel):
    timestamp: DatetimeOut
    value: float | None
    change_24h: float | None
