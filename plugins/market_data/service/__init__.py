"""The domain of market_data, with no HTTP in it; one module per concern:

- ``instruments``: the instrument value type, creation, changes, the filtered list
- ``order_sizes``: whether a quantity and price fit an instrument (lot, tick, min notional)
- ``bar_import``: reading and checking CSV and JSON rows (every problem of every row)
- ``bars``: the bar value type, the all-or-nothing import, the reads
- ``quotes``: the latest quote per symbol (Redis) and its event
- ``feed_state``: the live feed's desired and actual state (Redis)

The routes, the CLI, the feed and the tests use the names gathered here; errors are in
:mod:`quarkbot_plugins.market_data.errors`.
"""

from __future__ import annotations

from quarkbot_plugins.market_data.errors import (
    DuplicateInstrument,
    ImportRejected,
    InvalidInstrument,
    NoMarketData,
    RowError,
    UnknownInstrument,
)
from quarkbot_plugins.market_data.service.bar_import import (
    BarValidator,
    csv_rows,
    decode_upload,
    iter_csv,
    json_rows,
    validate_csv,
    validate_json,
    validate_rows,
)
from quarkbot_plugins.market_data.service.bars import (
    Bar,
    BarRow,
    ImportOutcome,
    bar_rows,
    closes_after,
    count_bars,
    has_bars,
    import_bars,
    query_bars,
    recent_bars,
    timeframes_with_bars,
)
from quarkbot_plugins.market_data.service.feed_state import (
    FEED_CONNECTED_CHANNEL,
    FEED_DISCONNECTED_CHANNEL,
    clear_actual,
    command_feed,
    feed_health,
    get_actual,
    get_desired,
    leader_key,
    put_actual,
    set_desired,
)
from quarkbot_plugins.market_data.service.instruments import (
    INSTRUMENTS_VERSION,
    Instrument,
    create_instrument,
    delete_instrument,
    get_instrument_record,
    instrument_queryset,
    known_symbols,
    require_instrument,
    update_instrument,
)
from quarkbot_plugins.market_data.service.order_sizes import (
    InvalidQuantityOrPrice,
    check_quantity_and_price,
)
from quarkbot_plugins.market_data.service.quotes import (
    QUOTE_CHANNEL_PREFIX,
    Quote,
    make_quote,
    publish_quote,
    quote_channel,
    quote_key,
    read_quote,
    read_quotes,
    require_quote,
)

__all__ = [
    "FEED_CONNECTED_CHANNEL",
    "FEED_DISCONNECTED_CHANNEL",
    "INSTRUMENTS_VERSION",
    "QUOTE_CHANNEL_PREFIX",
    "Bar",
    "BarRow",
    "BarValidator",
    "DuplicateInstrument",
    "ImportOutcome",
    "ImportRejected",
    "Instrument",
    "InvalidInstrument",
    "InvalidQuantityOrPrice",
    "NoMarketData",
    "Quote",
    "RowError",
    "UnknownInstrument",
    "bar_rows",
    "check_quantity_and_price",
    "clear_actual",
    "closes_after",
    "command_feed",
    "count_bars",
    "create_instrument",
    "csv_rows",
    "decode_upload",
    "delete_instrument",
    "feed_health",
    "get_actual",
    "get_desired",
    "get_instrument_record",
    "has_bars",
    "import_bars",
    "instrument_queryset",
    "iter_csv",
    "json_rows",
    "known_symbols",
    "leader_key",
    "make_quote",
    "publish_quote",
    "put_actual",
    "query_bars",
    "quote_channel",
    "quote_key",
    "read_quote",
    "read_quotes",
    "recent_bars",
    "require_instrument",
    "require_quote",
    "set_desired",
    "timeframes_with_bars",
    "update_instrument",
    "validate_csv",
    "validate_json",
    "validate_rows",
]
