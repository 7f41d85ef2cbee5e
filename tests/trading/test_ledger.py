"""Property tests of the position and cash arithmetic (average cost)."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from quarkbot_plugins.trading import ledger

quantities = st.decimals(min_value="0.001", max_value="1000", places=3)
prices = st.decimals(min_value="0.01", max_value="100000", places=2)
fees = st.decimals(min_value="0", max_value="10", places=4)
fill = st.tuples(st.sampled_from(["buy", "sell"]), quantities, prices, fees)


@given(st.lists(fill, max_size=60), prices, st.sampled_from(["spot", "perpetual"]))
def test_position_is_signed_sum_and_equity_identity_holds(fills, mark, kind):
    initial = Decimal("1000000")
    cash = initial
    state = ledger.PositionState()
    realized = Decimal(0)
    total_fees = Decimal(0)
    for side, quantity, price, fee in fills:
        effect = ledger.apply_fill(state, side, quantity, price, fee, kind)
        state = effect.position
        cash += effect.cash_delta
        realized += effect.realized_pnl
        total_fees += fee
    assert state.quantity == sum((ledger.signed(side, q) for side, q, _p, _f in fills), Decimal(0))
    equity = cash + ledger.position_value(kind, state, mark)
    expected = initial + realized + ledger.unrealized_pnl(state, mark) - total_fees
    assert abs(equity - expected) < Decimal("1e-12") * max(Decimal(1), abs(expected))
    if state.quantity == 0:
        assert state.avg_price == 0


def test_partial_close_realizes_average_cost_pnl():
    state = ledger.PositionState()
    state = ledger.apply_fill(state, "buy", Decimal(10), Decimal(100), Decimal(0), "spot").position
    state = ledger.apply_fill(state, "buy", Decimal(10), Decimal(110), Decimal(0), "spot").position
    assert state.avg_price == Decimal(105)
    effect = ledger.apply_fill(state, "sell", Decimal(5), Decimal(120), Decimal(1), "spot")
    assert effect.realized_pnl == Decimal(75)  # 5 x (120 - 105)
    assert effect.position == ledger.PositionState(Decimal(15), Decimal(105))
    assert effect.cash_delta == Decimal(599)  # 5 x 120 - 1


def test_short_perpetual_flip_opens_remainder_at_fill_price():
    state = ledger.apply_fill(
        ledger.PositionState(), "sell", Decimal(2), Decimal(50), Decimal(0), "perpetual"
    ).position
    effect = ledger.apply_fill(state, "buy", Decimal(3), Decimal(40), Decimal(0), "perpetual")
    assert effect.realized_pnl == Decimal(20)  # short 2 from 50 covered at 40
    assert effect.position == ledger.PositionState(Decimal(1), Decimal(40))
    assert effect.cash_delta == Decimal(20)  # perpetuals settle PnL only
