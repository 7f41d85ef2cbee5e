"""Risk, with no HTTP in it: the trading state, circuit breakers, limits, the PDT guard,
valuation, exposure and position sizing.

The pre-trade gate (:func:`gate`, the plugin's ``check_order``) runs, in this order: the kill
switch (trading state), the circuit breakers, the limits, the PDT guard. Budget runs after it
(its own plugin, ``trylast``). Everything it reads is in the database (and quotes in Redis), so
every web process and worker decides alike, at once, and after a restart. ``docs/risk.md`` is
the reference.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q

from quarkbot import audit, events
from quarkbot_plugins.market_data import api as market
from quarkbot_plugins.risk import pdt
from quarkbot_plugins.risk.models import CircuitBreaker, EquitySample, TradingState
from quarkbot_plugins.risk.schemas import BREAKER_NAMES, Limits
from quarkbot_plugins.risk.settings import risk_settings
from quarkbot_plugins.trading import api as trading
from quarkbot_plugins.trading.domain import Denial, OrderContext

log = logging.getLogger("quarkbot.risk")
PLUGIN = "risk"
ALERTS = "risk:alerts"
ZERO = Decimal(0)
HUNDRED = Decimal(100)
STATE_ID = 1
ACTIVE, REDUCING, HALTED = "ACTIVE", "REDUCING", "HALTED"
OPEN_ORDER_STATUSES = ("PENDING_SUBMIT", "ACCEPTED", "PARTIALLY_FILLED", "UNKNOWN")
BROKER_REJECTIONS = ("BROKER_REJECTED", "BROKER_UNKNOWN")

# Every code this plugin denies with (docs/risk.md lists them with the budget plugin's).
DENIAL_CODES: dict[str, str] = {
    "KILL_SWITCH_ACTIVE": "Trading is HALTED by the kill switch.",
    "REDUCING_ONLY": "Trading is REDUCING: only orders that reduce a position pass.",
    "CIRCUIT_OPEN": "A circuit breaker is open; details name it and give retry_at.",
    "POSITION_LIMIT": "The position after the order would exceed its quantity or notional limit.",
    "EXPOSURE_LIMIT": "Gross or net exposure after the order would exceed its limit.",
    "LEVERAGE_LIMIT": "Gross exposure / equity after the order would exceed the maximum.",
    "MARGIN_LIMIT": "Perpetual margin / equity after the order would exceed the maximum.",
    "DRAWDOWN_LIMIT": "The account is further below its peak equity than the limit allows.",
    "ORDER_NOTIONAL_LIMIT": "The order's notional exceeds the maximum order notional.",
    "OPEN_ORDERS_LIMIT": "The number of open orders would exceed the maximum.",
    "PDT_PROTECTION": "A 4th day trade in 5 business days below the PDT equity threshold.",
}

BREAKER_DEFAULTS: dict[str, dict[str, Any]] = {
    "daily_loss": {"threshold": Decimal(5)},  # % below the day's starting equity
    "max_drawdown": {"threshold": Decimal(10)},  # % below the running peak equity
    "consecutive_losses": {"threshold": Decimal(5)},  # losing round trips in a row
    # % of broker outcomes in the window that are rejections, once min_samples outcomes exist
    "rejection_rate": {"threshold": Decimal(50), "window_seconds": 3600, "min_samples": 10},
    "stale_market_data": {"threshold": Decimal(300)},  # seconds since a held symbol's quote
}
EQUITY_BREAKERS = ("daily_loss", "max_drawdown")


class RiskError(Exception):
    """A request the risk service refuses; maps to an HTTP status in the blueprint."""

    def __init__(self, status: int, detail: Any, **extra: Any) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail
        self.extra = extra


def now_utc() -> datetime:
    return datetime.now(UTC)


# alerts and audit -------------------------------------------------------------------------------
async def alert(type_: str, data: dict[str, Any]) -> None:
    """Publish on ``risk:alerts``; a Redis outage is logged, never fatal to the change."""
    try:
        await events.publish(ALERTS, type_, data)
    except Exception:
        log.warning("could not publish %s on %s", type_, ALERTS)


async def audit_system(action: str, path: str, actor: str = "risk") -> None:
    """Audit a change made by the system (a breaker tripping), not by a request."""
    try:
        await audit.append(
            audit.AuditEntry(
                actor=actor,
                actor_type="system",
                method="EVENT",
                path=path,
                status=200,
                request_id=uuid.uuid4().hex,
                action=action,
            )
        )
    except Exception:
        log.exception("could not audit %s", action)


# trading state and the kill switch --------------------------------------------------------------
async def state_row() -> TradingState:
    row = await TradingState.get_or_none(id=STATE_ID)
    if row is not None:
        return row
    try:
        return await TradingState.create(id=STATE_ID, state=ACTIVE)
    except IntegrityError:
        return await TradingState.get(id=STATE_ID)


def state_out(row: TradingState, canceled: int | None = None) -> dict[str, Any]:
    return {
        "state": row.state,
        "active": row.state != ACTIVE,
        "reason": row.reason,
        "activated_by": row.activated_by,
        "activated_at": row.activated_at,
        "cooldown_until": row.cooldown_until,
        "canceled_orders": canceled,
    }


async def change_state(
    action: str, reason: str, actor: str, now: datetime | None = None
) -> tuple[TradingState, int | None]:
    """Apply a kill-switch action; returns the new state and the orders canceled (activate).

    ``activate`` -> HALTED (cancels every open order); ``reduce`` -> REDUCING; ``deactivate``
    -> ACTIVE, refused (409) before ``cooldown_until``. Each change is one conditional UPDATE on
    the version it read, so two admins racing cannot interleave.
    """
    cooldown = timedelta(seconds=risk_settings().kill_switch_cooldown_seconds)
    for _attempt in range(20):
        now = now or now_utc()
        row = await state_row()
        values: dict[str, Any]
        if action == "activate":
            values = {
                "state": HALTED,
                "reason": reason,
                "activated_by": actor,
                "activated_at": now,
                "cooldown_until": now + cooldown,
            }
        elif action == "reduce":
            values = {"state": REDUCING, "reason": reason}
            if row.state == ACTIVE:
                values.update(activated_by=actor, activated_at=now, cooldown_until=now + cooldown)
        elif action == "deactivate":
            if row.state != ACTIVE and row.cooldown_until is not None and now < row.cooldown_until:
                remaining = int((row.cooldown_until - now).total_seconds() + 0.999)
                raise RiskError(
                    409,
                    f"The kill switch is in its cooldown: {remaining} s remaining",
                    code="KILL_SWITCH_COOLDOWN",
                    seconds_remaining=remaining,
                    cooldown_until=row.cooldown_until.isoformat(),
                )
            values = {
                "state": ACTIVE,
                "reason": reason,
                "activated_by": None,
                "activated_at": None,
                "cooldown_until": None,
            }
        else:
            raise ValueError(f"unknown kill-switch action {action!r}")
        changed = await TradingState.filter(id=STATE_ID, version=row.version).update(
            version=row.version + 1, **values
        )
        if changed:
            break
    else:
        raise RiskError(409, "The trading state is changing; retry")
    row = await state_row()
    canceled = None
    if action == "activate":
        canceled = await trading.cancel_open_orders(f"kill switch: {reason}")
    await alert(
        f"kill_switch.{action}d" if action != "activate" else "kill_switch.activated",
        {**state_out(row, canceled), "actor": actor},
    )
    return row, canceled


# circuit breakers -------------------------------------------------------------------------------
async def ensure_breakers() -> list[CircuitBreaker]:
    """Every named breaker, created with its defaults (disabled) the first time."""
    rows = {b.name: b for b in await CircuitBreaker.all()}
    for name in BREAKER_NAMES:
        if name not in rows:
            try:
                rows[name] = await CircuitBreaker.create(name=name, **BREAKER_DEFAULTS[name])
            except IntegrityError:
                rows[name] = await CircuitBreaker.get(name=name)
    return [rows[name] for name in BREAKER_NAMES]


def breaker_out(b: CircuitBreaker) -> dict[str, Any]:
    return {
        "name": b.name,
        "enabled": b.enabled,
        "state": b.state,
        "threshold": b.threshold,
        "window_seconds": b.window_seconds,
        "min_samples": b.min_samples,
        "cooldown_seconds": b.cooldown_seconds,
        "half_open": b.half_open,
        "reason": b.reason,
        "value": b.value,
        "tripped_at": b.tripped_at,
        "retry_at": b.retry_at,
        "trips": b.trips,
        "updated_at": b.updated_at,
    }


async def configure_breaker(name: str, changes: dict[str, Any]) -> CircuitBreaker:
    await ensure_breakers()
    if changes:
        await CircuitBreaker.filter(name=name).update(**changes)
    row = await CircuitBreaker.get(name=name)
    await alert("breaker.configured", breaker_out(row))
    return row


async def reset_breaker(name: str, actor: str) -> CircuitBreaker:
    """Close a breaker and restart its running figures from now (admin)."""
    await ensure_breakers()
    data: dict[str, Any] = {"reset_at": now_utc().isoformat()}
    if name == "consecutive_losses":
        last = await trading.Trade.all().order_by("-id").first()
        data["after_trade_id"] = last.id if last else 0
    await CircuitBreaker.filter(name=name).update(
        state="closed", reason=None, value=None, tripped_at=None, retry_at=None, data=data
    )
    row = await CircuitBreaker.get(name=name)
    await alert("breaker.reset", {**breaker_out(row), "actor": actor})
    return row


def _blocks(b: CircuitBreaker, now: datetime) -> bool:
    """An open breaker denies until an admin reset, or until retry_at when half-open is on."""
    if b.state != "open":
        return False
    return not (b.half_open and b.retry_at is not None and now >= b.retry_at)


async def _trip(b: CircuitBreaker, value: Decimal, reason: str, now: datetime) -> bool:
    retry_at = now + timedelta(seconds=b.cooldown_seconds) if b.half_open else None
    changed = await CircuitBreaker.filter(id=b.id, state__in=["closed", "half_open"]).update(
        state="open",
        reason=reason[:500],
        value=value,
        tripped_at=now,
        retry_at=retry_at,
        trips=F("trips") + 1,
        data=b.data,
    )
    if not changed:
        await CircuitBreaker.filter(id=b.id).update(value=value, data=b.data)
        return False
    row = await CircuitBreaker.get(id=b.id)
    log.warning("circuit breaker %s tripped: %s", b.name, reason)
    await alert("breaker.tripped", breaker_out(row))
    await audit_system("risk.breaker_tripped", f"/risk/circuit-breakers/{b.name}")
    return True


async def _settle(b: CircuitBreaker, value: Decimal, now: datetime) -> None:
    """The condition no longer holds: half-open after the cooldown, then closed."""
    if b.state == "open" and b.half_open and b.retry_at is not None and now >= b.retry_at:
        changed = await CircuitBreaker.filter(id=b.id, state="open").update(
            state="half_open", value=value, data=b.data
        )
        if changed:
            await alert("breaker.half_open", breaker_out(await CircuitBreaker.get(id=b.id)))
        return
    if b.state == "half_open":
        changed = await CircuitBreaker.filter(id=b.id, state="half_open").update(
            state="closed", reason=None, value=value, retry_at=None, data=b.data
        )
        if changed:
            await alert("breaker.closed", breaker_out(await CircuitBreaker.get(id=b.id)))
        return
    await CircuitBreaker.filter(id=b.id).update(value=value, data=b.data)


async def _judge(b: CircuitBreaker, value: Decimal, reason: str, now: datetime) -> bool:
    if value >= Decimal(b.threshold):
        return await _trip(b, value, reason, now)
    await _settle(b, value, now)
    return False


async def evaluate_breakers(
    names: tuple[str, ...] = BREAKER_NAMES,
    valuation: Valuation | None = None,
    order_model: Any = None,
    now: datetime | None = None,
) -> list[str]:
    """Evaluate the enabled breakers among ``names``; returns the names that tripped now."""
    now = now or now_utc()
    rows = await CircuitBreaker.filter(enabled=True, name__in=list(names))
    if not rows:
        return []
    tripped = []
    if any(b.name in EQUITY_BREAKERS or b.name == "stale_market_data" for b in rows):
        valuation = valuation or await valuate()
    for b in rows:
        b.data = dict(b.data or {})
        threshold = Decimal(b.threshold)
        if b.name == "max_drawdown":
            assert valuation is not None
            equity = valuation.equity
            peak = max(Decimal(b.data.get("peak_equity") or equity), equity)
            b.data["peak_equity"] = str(peak)
            drawdown = (peak - equity) / peak * HUNDRED if peak > 0 else ZERO
            reason = f"drawdown {drawdown:.2f}% from peak {peak:.2f} >= {threshold}%"
            if await _judge(b, drawdown, reason, now):
                tripped.append(b.name)
        elif b.name == "daily_loss":
            assert valuation is not None
            equity = valuation.equity
            today = now.date().isoformat()
            if b.data.get("day") != today:
                b.data.update(day=today, start_equity=str(equity))
            start = Decimal(b.data["start_equity"])
            loss = (start - equity) / start * HUNDRED if start > 0 else ZERO
            reason = f"daily loss {loss:.2f}% from {start:.2f} >= {threshold}%"
            if await _judge(b, loss, reason, now):
                tripped.append(b.name)
        elif b.name == "consecutive_losses":
            after = int(b.data.get("after_trade_id") or 0)
            recent = (
                await trading.Trade.filter(account=trading.trading_settings().account, id__gt=after)
                .order_by("-closed_at", "-id")
                .limit(int(threshold) + 1)
            )
            streak = 0
            for trade in recent:
                if Decimal(trade.pnl) >= 0:
                    break
                streak += 1
            reason = f"{streak} losing trades in a row >= {threshold}"
            if await _judge(b, Decimal(streak), reason, now):
                tripped.append(b.name)
        elif b.name == "rejection_rate":
            if order_model is None:
                continue
            since: datetime = now - timedelta(seconds=b.window_seconds)
            reset_at = b.data.get("reset_at")
            if reset_at:
                since = max(since, datetime.fromisoformat(reset_at))
            reached = await order_model.filter(submitted_at__gte=since).count()
            rejected = await order_model.filter(
                closed_at__gte=since, deny_code__in=list(BROKER_REJECTIONS)
            ).count()
            outcomes = reached + rejected
            if outcomes < b.min_samples:
                continue
            rate = Decimal(rejected) / Decimal(outcomes) * HUNDRED
            reason = f"{rejected} of {outcomes} orders rejected by the broker ({rate:.1f}%)"
            if await _judge(b, rate, reason, now):
                tripped.append(b.name)
        elif b.name == "stale_market_data":
            assert valuation is not None
            ages = [
                (h.symbol, (now - h.quote_ts).total_seconds() if h.quote_ts else None)
                for h in valuation.holdings
            ]
            stale = [(s, a) for s, a in ages if a is None or a >= float(threshold)]
            oldest = max((a if a is not None else float("inf")) for _s, a in ages) if ages else 0
            value = Decimal(str(oldest)) if oldest != float("inf") else Decimal("1e9")
            reason = "stale quotes: " + ", ".join(
                f"{s} ({'none' if a is None else f'{a:.0f} s'})" for s, a in stale
            )
            if await _judge(b, value, reason, now):
                tripped.append(b.name)
    return tripped


# valuation --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Holding:
    symbol: str
    kind: str
    quantity: Decimal
    mark: Decimal
    notional: Decimal  # signed quantity x mark
    value: Decimal  # what it adds to equity (trading.ledger.position_value)
    leverage: Decimal
    quote_ts: datetime | None


@dataclass(frozen=True)
class Valuation:
    equity: Decimal
    cash: Decimal
    holdings: list[Holding] = field(default_factory=list)

    @property
    def gross(self) -> Decimal:
        return sum((abs(h.notional) for h in self.holdings), ZERO)

    @property
    def net(self) -> Decimal:
        return sum((h.notional for h in self.holdings), ZERO)

    @property
    def margin(self) -> Decimal:
        return sum((abs(h.notional) / h.leverage for h in self.holdings if h.kind != "spot"), ZERO)

    def holding(self, symbol: str) -> Holding | None:
        return next((h for h in self.holdings if h.symbol == symbol), None)


async def valuate() -> Valuation:
    """The account now, as the portfolio plugin defines it: cash in the base currency plus each
    position's ``ledger.position_value`` at its quote mid (its average price without a quote).
    """
    settings = trading.trading_settings()
    rows = await trading.Position.filter(account=settings.account).exclude(quantity=0)
    cash_row = await trading.CashBalance.get_or_none(
        account=settings.account, currency=settings.base_currency
    )
    cash = Decimal(cash_row.amount) if cash_row is not None else Decimal(settings.initial_capital)
    holdings = []
    for row in rows:
        quantity = Decimal(row.quantity)
        quote = await market.latest_quote(row.symbol)
        mark = Decimal(quote.mid) if quote is not None else Decimal(row.avg_price)
        state = trading.ledger.PositionState(quantity, Decimal(row.avg_price))
        holdings.append(
            Holding(
                symbol=row.symbol,
                kind=row.kind,
                quantity=quantity,
                mark=mark,
                notional=quantity * mark,
                value=trading.ledger.position_value(row.kind, state, mark),
                leverage=max(Decimal(row.leverage), Decimal(1)),
                quote_ts=quote.ts if quote is not None else None,
            )
        )
    return Valuation(cash + sum((h.value for h in holdings), ZERO), cash, holdings)


async def record_equity(valuation: Valuation, now: datetime | None = None) -> None:
    """Raise the running peak, and keep one equity sample per minute (the first of the minute
    wins; reruns change nothing). Reads first, so that an idle monitor writes once a minute."""
    now = now or now_utc()
    account = trading.trading_settings().account
    state = await state_row()
    if state.peak_equity is None or Decimal(state.peak_equity) < valuation.equity:
        await TradingState.filter(
            Q(peak_equity__isnull=True) | Q(peak_equity__lt=valuation.equity), id=STATE_ID
        ).update(peak_equity=valuation.equity)
    bucket = now.replace(second=0, microsecond=0)
    if await EquitySample.exists(account=account, bucket=bucket):
        return
    try:
        await EquitySample.create(account=account, bucket=bucket, equity=valuation.equity, ts=now)
    except IntegrityError:
        pass


async def exposure() -> dict[str, Decimal | None]:
    """Signed notional of each open position as a fraction of equity, and the gross total."""
    v = await valuate()
    out: dict[str, Decimal | None] = {}
    for h in sorted(v.holdings, key=lambda h: h.symbol):
        out[h.symbol] = h.notional / v.equity if v.equity else None
    out["total"] = v.gross / v.equity if v.equity else None
    return out


# limits -----------------------------------------------------------------------------------------
_limits_cache: tuple[dict[str, Any], Limits] | None = None


def parse_limits(document: dict[str, Any]) -> Limits:
    """The limits document, parsed once per change (the last document parsed is kept)."""
    global _limits_cache
    if _limits_cache is None or _limits_cache[0] != document:
        _limits_cache = (document, Limits.model_validate(document or {}))
    return _limits_cache[1]


async def current_limits() -> tuple[Limits, TradingState | None]:
    row = await TradingState.get_or_none(id=STATE_ID)
    return parse_limits(row.limits if row is not None else {}), row


async def set_limits(limits: Limits, actor: str) -> tuple[Limits, TradingState]:
    document = limits.model_dump(mode="json")
    await state_row()
    await TradingState.filter(id=STATE_ID).update(
        limits=document, limits_updated_by=actor, limits_updated_at=now_utc()
    )
    await alert("limits.updated", {"limits": document, "actor": actor})
    return limits, await state_row()


def order_price(order: Any, quote: Any) -> Decimal:
    if order.price is not None:
        return Decimal(order.price)
    return Decimal(quote.ask if order.side == "buy" else quote.bid)


async def check_limits(
    order: Any, ctx: OrderContext, limits: Limits, state: TradingState | None = None
) -> Denial | None:
    quantity = Decimal(order.quantity)
    price = order_price(order, ctx.quote)
    notional = quantity * price
    pf = limits.portfolio
    if pf.max_order_notional is not None and notional > pf.max_order_notional:
        return Denial(
            "ORDER_NOTIONAL_LIMIT",
            f"order notional {notional:.2f} exceeds the maximum {pf.max_order_notional}",
            PLUGIN,
            {"notional": str(notional), "limit": str(pf.max_order_notional)},
        )
    symbol_limit = limits.position.symbols.get(order.symbol, limits.position.default)
    after = ctx.exposure_after(order.side, quantity)
    if symbol_limit.max_quantity is not None and abs(after) > symbol_limit.max_quantity:
        return Denial(
            "POSITION_LIMIT",
            f"position {after} in {order.symbol} would exceed the maximum quantity "
            f"{symbol_limit.max_quantity}",
            PLUGIN,
            {"position_after": str(after), "limit": str(symbol_limit.max_quantity)},
        )
    if symbol_limit.max_notional is not None and abs(after) * price > symbol_limit.max_notional:
        return Denial(
            "POSITION_LIMIT",
            f"position notional {abs(after) * price:.2f} in {order.symbol} would exceed the "
            f"maximum {symbol_limit.max_notional}",
            PLUGIN,
            {"notional_after": str(abs(after) * price), "limit": str(symbol_limit.max_notional)},
        )
    if pf.max_open_orders is not None:
        model = type(order)
        open_orders = await model.filter(status__in=list(OPEN_ORDER_STATUSES)).count()
        stored = bool(getattr(order, "id", 0))  # the order itself is already PENDING_SUBMIT
        would_be = open_orders + (0 if stored else 1)
        if would_be > pf.max_open_orders:
            return Denial(
                "OPEN_ORDERS_LIMIT",
                f"{would_be} open orders would exceed the maximum {pf.max_open_orders}",
                PLUGIN,
                {"open_orders": would_be, "limit": pf.max_open_orders},
            )
    needs_valuation = (
        pf.max_gross_exposure is not None
        or pf.max_net_exposure is not None
        or pf.max_leverage is not None
        or limits.margin.max_margin_utilization is not None
        or limits.drawdown.max_drawdown_pct is not None
    )
    if not needs_valuation:
        return None
    v = await valuate()
    held = v.holding(order.symbol)
    mark = held.mark if held is not None else Decimal(ctx.quote.mid)
    before_notional = held.notional if held is not None else ZERO
    after_notional = after * mark
    gross = v.gross - abs(before_notional) + abs(after_notional)
    net = v.net - before_notional + after_notional
    if pf.max_gross_exposure is not None and gross > pf.max_gross_exposure:
        return Denial(
            "EXPOSURE_LIMIT",
            f"gross exposure {gross:.2f} would exceed the maximum {pf.max_gross_exposure}",
            PLUGIN,
            {"gross_after": str(gross), "limit": str(pf.max_gross_exposure)},
        )
    if pf.max_net_exposure is not None and abs(net) > pf.max_net_exposure:
        return Denial(
            "EXPOSURE_LIMIT",
            f"net exposure {net:.2f} would exceed the maximum {pf.max_net_exposure}",
            PLUGIN,
            {"net_after": str(net), "limit": str(pf.max_net_exposure)},
        )
    equity = v.equity
    if pf.max_leverage is not None:
        leverage = gross / equity if equity > 0 else Decimal("Infinity")
        if leverage > pf.max_leverage:
            return Denial(
                "LEVERAGE_LIMIT",
                f"leverage {leverage:.2f} (gross / equity) would exceed {pf.max_leverage}",
                PLUGIN,
                {"leverage_after": str(leverage), "limit": str(pf.max_leverage)},
            )
    max_margin = limits.margin.max_margin_utilization
    if max_margin is not None and ctx.instrument.kind != "spot":
        lev = max(Decimal(order.leverage), Decimal(1))
        before_margin = abs(before_notional) / (held.leverage if held is not None else lev)
        margin = v.margin - before_margin + abs(after_notional) / lev
        utilization = margin / equity if equity > 0 else Decimal("Infinity")
        if utilization > max_margin:
            return Denial(
                "MARGIN_LIMIT",
                f"margin {margin:.2f} would use {utilization:.2%} of equity, above "
                f"{max_margin:.2%}",
                PLUGIN,
                {"margin_after": str(margin), "limit": str(max_margin)},
            )
    max_dd = limits.drawdown.max_drawdown_pct
    if max_dd is not None:
        peak = peak_equity(equity, state)
        drawdown = (peak - equity) / peak * HUNDRED if peak > 0 else ZERO
        if drawdown > max_dd:
            return Denial(
                "DRAWDOWN_LIMIT",
                f"equity {equity:.2f} is {drawdown:.2f}% below its peak {peak:.2f}, past the "
                f"{max_dd}% limit",
                PLUGIN,
                {"drawdown_pct": str(drawdown), "limit": str(max_dd)},
            )
    return None


def peak_equity(current: Decimal, state: TradingState | None) -> Decimal:
    """The highest equity seen: the initial capital, the monitor's running peak, and now."""
    candidates = [current, Decimal(trading.trading_settings().initial_capital)]
    if state is not None and state.peak_equity is not None:
        candidates.append(Decimal(state.peak_equity))
    return max(candidates)


# PDT --------------------------------------------------------------------------------------------
def _rule(instrument_cls: str, now: datetime) -> pdt.PatternDayTraderRule | None:
    settings = risk_settings()
    if instrument_cls not in settings.pdt_classes:
        return None
    return pdt.rule_for(
        instrument_cls,
        now.date(),
        equity_threshold=settings.pdt_equity_threshold,
        max_day_trades=settings.pdt_max_day_trades,
    )


async def day_trades_used(rule: pdt.PatternDayTraderRule, now: datetime) -> int:
    """Closing orders whose round trip opened and closed on one trading day, in the window."""
    from zoneinfo import ZoneInfo

    today = rule.trading_day(now)
    first = rule.window_start(today)
    since = datetime.combine(first, datetime.min.time(), tzinfo=ZoneInfo(rule.timezone))
    rows = await trading.Trade.filter(
        account=trading.trading_settings().account, closed_at__gte=since
    ).values("symbol", "opened_at", "closed_at", "closing_fill__order_id")
    classes: dict[str, str] = {}
    orders = set()
    for row in rows:
        symbol = row["symbol"]
        if symbol not in classes:
            instrument = await market.get_instrument(symbol)
            classes[symbol] = pdt.instrument_class(instrument) if instrument else "other"
        if classes[symbol] not in risk_settings().pdt_classes:
            continue
        if rule.trading_day(row["opened_at"]) == rule.trading_day(row["closed_at"]):
            orders.add(row["closing_fill__order_id"])
    return len(orders)


async def check_pdt(order: Any, ctx: OrderContext, now: datetime) -> Denial | None:
    rule = _rule(pdt.instrument_class(ctx.instrument), now)
    if rule is None or not ctx.reduces_exposure(order.side, Decimal(order.quantity)):
        return None  # only a closing order can complete a day trade
    position = await trading.Position.get_or_none(
        account=trading.trading_settings().account, symbol=order.symbol
    )
    if position is None or position.opened_at is None:
        return None
    if rule.trading_day(position.opened_at) != rule.trading_day(now):
        return None
    used = await day_trades_used(rule, now)
    if used < rule.max_day_trades:
        return None
    equity = (await valuate()).equity
    if not rule.denies(used, equity):
        return None
    return Denial(
        "PDT_PROTECTION",
        f"this would be day trade {used + 1} in {rule.window_business_days} business days with "
        f"equity {equity:.2f} below {rule.equity_threshold} ({rule.name})",
        PLUGIN,
        {
            "day_trades_used": used,
            "max_day_trades": rule.max_day_trades,
            "equity": str(equity),
            "threshold": str(rule.equity_threshold),
        },
    )


async def pdt_status(instrument_cls: str) -> dict[str, Any]:
    now = now_utc()
    rule = _rule(instrument_cls, now)
    reference = rule or pdt.rule_for("us_equity", now.date()) or pdt.PatternDayTraderRule()
    settings = risk_settings()
    used = await day_trades_used(reference, now)
    equity = (await valuate()).equity
    threshold = settings.pdt_equity_threshold
    max_trades = settings.pdt_max_day_trades
    return {
        "enabled": rule is not None,
        "instrument_class": instrument_cls,
        "rule": rule.name if rule else None,
        "effective_from": rule.effective_from.isoformat() if rule else None,
        "day_trades_used": used,
        "max_day_trades": max_trades,
        "window_business_days": reference.window_business_days,
        "account_threshold": threshold,
        "equity": equity,
        "day_trades_left": None
        if rule is None or equity >= threshold
        else max(max_trades - used, 0),
    }


# the gate ---------------------------------------------------------------------------------------
async def gate(order: Any, ctx: OrderContext) -> Denial | None:
    """Kill switch, circuit breakers, limits, PDT, in that order; the first denial wins."""
    denial = await _gate(order, ctx)
    if denial is not None and risk_settings().alert_denials and ctx.phase != "preview":
        await alert(
            "order.denied",
            {
                "code": denial.code,
                "reason": denial.reason,
                "order_id": getattr(order, "id", None),
                "client_order_id": order.client_order_id,
                "symbol": order.symbol,
                "phase": ctx.phase,
                "details": denial.details,
            },
        )
    return denial


async def _gate(order: Any, ctx: OrderContext) -> Denial | None:
    now = now_utc()
    reduces = ctx.reduces_exposure(order.side, Decimal(order.quantity))
    state = await TradingState.get_or_none(id=STATE_ID)
    if state is not None and state.state != ACTIVE:
        if state.state == HALTED:
            return Denial(
                "KILL_SWITCH_ACTIVE",
                f"trading is halted by the kill switch: {state.reason or 'no reason given'}",
                PLUGIN,
                {"activated_by": state.activated_by, "state": state.state},
            )
        if not reduces:
            return Denial(
                "REDUCING_ONLY",
                "trading is REDUCING: only orders that reduce a position are accepted",
                PLUGIN,
                {"state": state.state},
            )
    if not reduces:
        for b in await CircuitBreaker.filter(state="open", enabled=True):
            if _blocks(b, now):
                retry_at = b.retry_at.isoformat() if b.retry_at else None
                return Denial(
                    "CIRCUIT_OPEN",
                    f"circuit breaker {b.name} is open: {b.reason}",
                    PLUGIN,
                    {"breaker": b.name, "retry_at": retry_at},
                )
        if ctx.phase == "pre_submit":
            # right before the broker call only what an operator or a breaker decides is
            # re-read; the limits and the PDT count were checked moments ago (phase "check")
            return None
        limits = parse_limits(state.limits if state is not None else {})
        denial = await check_limits(order, ctx, limits, state)
        if denial is not None:
            return denial
    if ctx.phase == "pre_submit":
        return None
    return await check_pdt(order, ctx, now)


# position sizing --------------------------------------------------------------------------------
TIMEFRAME_SECONDS = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14400,
    "1d": 86400,
}


async def recent_bars(symbol: str, timeframe: str, count: int) -> list[Any]:
    """The last ``count`` bars (ascending), searching back in widening windows."""
    step = timedelta(seconds=TIMEFRAME_SECONDS[timeframe])
    now = now_utc()
    for factor in (3, 30, 300, 3000):
        bars = await market.get_bars(symbol, timeframe, start=now - step * count * factor)
        if len(bars) >= count or factor == 3000:
            break
    if len(bars) < count:
        bars = await market.get_bars(symbol, timeframe, limit=1_000_000)
    return bars[-count:]


def average_true_range(bars: list[Any], period: int) -> Decimal:
    """Mean of the last ``period`` true ranges (max(high-low, |high-prev close|, |low-prev
    close|)); the first bar has no previous close and uses high-low."""
    ranges = []
    for i, bar in enumerate(bars):
        high, low = Decimal(bar.high), Decimal(bar.low)
        if i == 0:
            ranges.append(high - low)
            continue
        prev = Decimal(bars[i - 1].close)
        ranges.append(max(high - low, abs(high - prev), abs(low - prev)))
    window = ranges[-period:]
    return sum(window, ZERO) / len(window)


def _floor(value: Decimal, step: Decimal) -> Decimal:
    if value <= 0:
        return ZERO
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


async def position_size(
    symbol: str,
    *,
    risk_per_trade_pct: Decimal,
    atr_multiple: Decimal,
    reward_risk: Decimal,
    atr_period: int,
    timeframe: str,
    side: str,
    strategy_id: str | None,
    budget_available: Any = None,
) -> dict[str, Any]:
    instrument = await market.get_instrument(symbol)
    if instrument is None:
        raise RiskError(404, f"Unknown instrument {symbol!r}")
    bars = await recent_bars(symbol, timeframe, atr_period + 1)
    if len(bars) < 2:
        raise RiskError(
            409, f"Not enough {timeframe} bars of {symbol} for an ATR", code="NO_MARKET_DATA"
        )
    atr = average_true_range(bars, atr_period)
    quote = await market.latest_quote(symbol)
    price = Decimal(quote.mid) if quote is not None else Decimal(bars[-1].close)
    v = await valuate()
    risk_amount = v.equity * risk_per_trade_pct / HUNDRED
    stop_distance = atr * atr_multiple
    sign = Decimal(1) if side == "buy" else Decimal(-1)
    stop_loss = price - sign * stop_distance
    take_profit = price + sign * stop_distance * reward_risk
    lot = Decimal(instrument.lot_size)
    raw = risk_amount / stop_distance if stop_distance > 0 else ZERO
    caps: dict[str, Decimal] = {}
    limits, _row = await current_limits()
    held = v.holding(symbol)
    position = held.quantity if held is not None else ZERO
    symbol_limit = limits.position.symbols.get(symbol, limits.position.default)
    same_way = position * sign >= 0
    used = abs(position) if same_way else ZERO
    if symbol_limit.max_quantity is not None:
        caps["position max_quantity"] = symbol_limit.max_quantity - used
    if symbol_limit.max_notional is not None:
        caps["position max_notional"] = symbol_limit.max_notional / price - used
    pf = limits.portfolio
    if pf.max_order_notional is not None:
        caps["max_order_notional"] = pf.max_order_notional / price
    if pf.max_gross_exposure is not None:
        caps["max_gross_exposure"] = (pf.max_gross_exposure - v.gross) / price
    if pf.max_leverage is not None:
        caps["max_leverage"] = (pf.max_leverage * v.equity - v.gross) / price
    fee_rate = Decimal(trading.trading_settings().taker_fee_bps) / Decimal(10_000)
    if instrument.kind == "spot" and side == "buy":
        caps["cash"] = v.cash / (price * (1 + fee_rate))
    if budget_available is not None:
        caps["budget"] = Decimal(budget_available) / (price * (1 + fee_rate))
    max_size = _floor(min(caps.values()), lot) if caps else _floor(raw, lot)
    recommended = _floor(min(raw, max_size), lot)
    limited_by = sorted(name for name, cap in caps.items() if _floor(cap, lot) <= max_size)
    explanation = (
        f"Risking {risk_per_trade_pct}% of equity {v.equity:.2f} = {risk_amount:.2f}; "
        f"ATR({atr_period}, {timeframe}) = {atr:.6g} over {len(bars)} bars; stop "
        f"{atr_multiple} x ATR = {stop_distance:.6g} from {price} at {stop_loss:.6g}, target "
        f"{reward_risk} x that at {take_profit:.6g}; size = risk / stop distance = {raw:.6g}, "
        f"rounded down to the lot size {lot}"
        + (f", capped at {max_size} by {', '.join(limited_by)}" if recommended < raw else "")
        + "."
    )
    return {
        "symbol": symbol,
        "side": side,
        "timeframe": timeframe,
        "bars_used": len(bars),
        "price": price,
        "atr": atr,
        "equity": v.equity,
        "risk_per_trade": risk_amount,
        "stop_distance": stop_distance,
        "stop_loss": stop_loss,
        "take_profit": take_profit,
        "recommended_size": recommended,
        "max_size": max_size,
        "limited_by": limited_by if caps else [],
        "explanation": explanation,
    }
