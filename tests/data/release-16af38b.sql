-- the SQLite schema (and one cash row) of the release before issue 18, made by its own `quarkbot migrate`
BEGIN TRANSACTION;
CREATE TABLE "alerts_alert" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "fingerprint" VARCHAR(200) NOT NULL,
    "open_key" VARCHAR(200)  UNIQUE,
    "source" VARCHAR(64) NOT NULL,
    "rule_id" INT,
    "severity" VARCHAR(8) NOT NULL,
    "status" VARCHAR(12) NOT NULL,
    "message" VARCHAR(1000) NOT NULL,
    "labels" JSON NOT NULL,
    "value" REAL,
    "risk" INT NOT NULL,
    "occurrences" INT NOT NULL,
    "started_at" TIMESTAMP NOT NULL,
    "last_seen_at" TIMESTAMP NOT NULL,
    "acknowledged_by" VARCHAR(100),
    "acknowledged_at" TIMESTAMP,
    "resolved_by" VARCHAR(100),
    "resolved_at" TIMESTAMP
);
CREATE TABLE "alerts_delivery" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "key" VARCHAR(200) NOT NULL UNIQUE,
    "target_id" INT NOT NULL,
    "alert_id" INT NOT NULL,
    "event" VARCHAR(16) NOT NULL,
    "status" VARCHAR(12) NOT NULL,
    "attempts" INT NOT NULL,
    "next_attempt_at" TIMESTAMP NOT NULL,
    "last_error" VARCHAR(500),
    "delivered_at" TIMESTAMP,
    "created_at" TIMESTAMP NOT NULL
);
CREATE TABLE "alerts_notifier_target" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(100) NOT NULL UNIQUE,
    "notifier" VARCHAR(32) NOT NULL,
    "config" JSON NOT NULL,
    "min_severity" VARCHAR(8) NOT NULL,
    "enabled" INT NOT NULL,
    "created_by" VARCHAR(100) NOT NULL,
    "created_at" TIMESTAMP NOT NULL
);
CREATE TABLE "alerts_rule" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(100) NOT NULL UNIQUE,
    "metric" VARCHAR(64) NOT NULL,
    "labels" JSON NOT NULL,
    "condition" VARCHAR(16) NOT NULL,
    "threshold" REAL NOT NULL,
    "window_seconds" INT NOT NULL,
    "for_seconds" INT NOT NULL,
    "cooldown_seconds" INT NOT NULL,
    "severity" VARCHAR(8) NOT NULL,
    "risk" INT NOT NULL,
    "description" VARCHAR(500) NOT NULL,
    "enabled" INT NOT NULL,
    "created_by" VARCHAR(100) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL
);
CREATE TABLE "alerts_series" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "fingerprint" VARCHAR(200) NOT NULL UNIQUE,
    "pending_since" TIMESTAMP,
    "clear_since" TIMESTAMP,
    "updated_at" TIMESTAMP NOT NULL
);
CREATE TABLE "backtests_backtest" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "created_by" VARCHAR(100) NOT NULL,
    "strategy_type" VARCHAR(64) NOT NULL,
    "strategy_id" INT,
    "strategy_name" VARCHAR(200),
    "symbols" JSON NOT NULL,
    "timeframe" VARCHAR(4) NOT NULL,
    "start" TIMESTAMP NOT NULL,
    "end" TIMESTAMP NOT NULL,
    "initial_capital" VARCHAR(40) NOT NULL,
    "fees" REAL NOT NULL,
    "slippage" REAL NOT NULL,
    "params" JSON NOT NULL,
    "param_grid" JSON,
    "rank_by" VARCHAR(32) NOT NULL,
    "combinations" INT NOT NULL,
    "chunk_size" INT NOT NULL,
    "chunks" INT NOT NULL,
    "chunks_done" INT NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "error" TEXT,
    "metrics" JSON,
    "best_params" JSON,
    "best_index" INT,
    "equity" JSON,
    "trades" JSON,
    "final_value" VARCHAR(40),
    "total_return_pct" REAL,
    "total_trades" INT,
    "job_ids" JSON NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "started_at" TIMESTAMP,
    "finished_at" TIMESTAMP
);
CREATE TABLE "backtests_chunk" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "index" INT NOT NULL,
    "job_id" VARCHAR(64),
    "status" VARCHAR(16) NOT NULL,
    "worker" VARCHAR(200),
    "rows" INT NOT NULL,
    "started_at" TIMESTAMP,
    "finished_at" TIMESTAMP,
    "backtest_id" INT NOT NULL REFERENCES "backtests_backtest" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_backtests_c_backtes_9e733b" UNIQUE ("backtest_id", "index")
);
CREATE TABLE "backtests_row" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "combination" INT NOT NULL,
    "symbol" VARCHAR(32) NOT NULL,
    "params" JSON NOT NULL,
    "total_return_pct" REAL,
    "cagr" REAL,
    "sharpe_ratio" REAL,
    "sortino_ratio" REAL,
    "calmar_ratio" REAL,
    "max_drawdown_pct" REAL,
    "win_rate" REAL,
    "profit_factor" REAL,
    "exposure_pct" REAL,
    "alpha_pct" REAL,
    "final_value" REAL,
    "total_trades" INT NOT NULL,
    "backtest_id" INT NOT NULL REFERENCES "backtests_backtest" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_backtests_r_backtes_b64bf9" UNIQUE ("backtest_id", "combination", "symbol")
);
CREATE TABLE "budget_fill" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "fill_id" VARCHAR(100) NOT NULL UNIQUE,
    "order_id" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL
);
CREATE TABLE "budget_ledger" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "strategy_id" VARCHAR(64) NOT NULL,
    "currency" VARCHAR(16) NOT NULL,
    "allocated" VARCHAR(40) NOT NULL,
    "reserved" VARCHAR(40) NOT NULL,
    "committed" VARCHAR(40) NOT NULL,
    "available" VARCHAR(40) NOT NULL,
    "realized_pnl" VARCHAR(40) NOT NULL,
    "total_fees" VARCHAR(40) NOT NULL,
    "owner" VARCHAR(100) NOT NULL,
    "created_by" VARCHAR(100) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_budget_ledg_strateg_ed86e8" UNIQUE ("strategy_id", "currency")
);
CREATE TABLE "budget_position" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "strategy_id" VARCHAR(64) NOT NULL,
    "symbol" VARCHAR(32) NOT NULL,
    "currency" VARCHAR(16) NOT NULL,
    "quantity" VARCHAR(40) NOT NULL,
    "avg_price" VARCHAR(40) NOT NULL,
    "committed" VARCHAR(40) NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_budget_posi_strateg_637a19" UNIQUE ("strategy_id", "symbol")
);
CREATE TABLE "budget_reservation" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "order_id" INT NOT NULL UNIQUE,
    "strategy_id" VARCHAR(64) NOT NULL,
    "currency" VARCHAR(16) NOT NULL,
    "amount" VARCHAR(40) NOT NULL,
    "remaining" VARCHAR(40) NOT NULL,
    "status" VARCHAR(8) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL
);
CREATE TABLE "example_note" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "text" VARCHAR(500) NOT NULL,
    "author" VARCHAR(64) NOT NULL,
    "stamps" INT NOT NULL
);
CREATE TABLE "hedging_execution" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "uid" VARCHAR(32) NOT NULL UNIQUE,
    "kind" VARCHAR(8) NOT NULL,
    "idempotency_key" VARCHAR(100)  UNIQUE,
    "request_hash" VARCHAR(64) NOT NULL,
    "actor" VARCHAR(100) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "message" VARCHAR(500) NOT NULL,
    "plan" JSON NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "completed_at" TIMESTAMP
);
CREATE TABLE "hedging_leg" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "seq" INT NOT NULL,
    "asset" VARCHAR(16) NOT NULL,
    "symbol" VARCHAR(32) NOT NULL,
    "side" VARCHAR(4) NOT NULL,
    "quantity" VARCHAR(40) NOT NULL,
    "reduce_only" INT NOT NULL,
    "client_order_id" VARCHAR(64) NOT NULL UNIQUE,
    "order_id" INT,
    "status" VARCHAR(20) NOT NULL,
    "error_code" VARCHAR(64),
    "error" VARCHAR(500),
    "placed_at" TIMESTAMP,
    "created_at" TIMESTAMP NOT NULL,
    "execution_id" INT NOT NULL REFERENCES "hedging_execution" ("id") ON DELETE CASCADE,
    CONSTRAINT "uid_hedging_leg_executi_21b391" UNIQUE ("execution_id", "seq")
);
CREATE TABLE "hedging_slot" (
    "symbol" VARCHAR(32) NOT NULL  PRIMARY KEY,
    "version" INT NOT NULL
);
CREATE TABLE "market_data_bar" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "symbol" VARCHAR(32) NOT NULL,
    "timeframe" VARCHAR(4) NOT NULL,
    "ts" TIMESTAMP NOT NULL,
    "open" VARCHAR(40) NOT NULL,
    "high" VARCHAR(40) NOT NULL,
    "low" VARCHAR(40) NOT NULL,
    "close" VARCHAR(40) NOT NULL,
    "volume" VARCHAR(40) NOT NULL,
    CONSTRAINT "uid_market_data_symbol_1604e7" UNIQUE ("symbol", "timeframe", "ts")
);
CREATE TABLE "market_data_instrument" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "symbol" VARCHAR(32) NOT NULL UNIQUE,
    "kind" VARCHAR(16) NOT NULL,
    "base_currency" VARCHAR(16) NOT NULL,
    "quote_currency" VARCHAR(16) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "sector" VARCHAR(64),
    "tick_size" VARCHAR(40) NOT NULL,
    "lot_size" VARCHAR(40) NOT NULL,
    "min_notional" VARCHAR(40) NOT NULL,
    "max_leverage" INT NOT NULL,
    "is_active" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL
);
CREATE TABLE "metrics_point" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "metric" VARCHAR(64) NOT NULL,
    "labels" VARCHAR(512) NOT NULL,
    "resolution" VARCHAR(4) NOT NULL,
    "ts" TIMESTAMP NOT NULL,
    "count" REAL NOT NULL,
    "sum" REAL NOT NULL,
    "min" REAL NOT NULL,
    "max" REAL NOT NULL,
    CONSTRAINT "uid_metrics_poi_metric_d1c117" UNIQUE ("metric", "resolution", "labels", "ts")
);
CREATE TABLE "portfolio_snapshot" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "ts" TIMESTAMP NOT NULL,
    "account" VARCHAR(64) NOT NULL,
    "total_equity" VARCHAR(40) NOT NULL,
    "cash" VARCHAR(40) NOT NULL,
    "positions_value" VARCHAR(40) NOT NULL,
    "unrealized_pnl" VARCHAR(40) NOT NULL,
    "realized_pnl" VARCHAR(40) NOT NULL,
    "peak_equity" VARCHAR(40) NOT NULL,
    "max_drawdown_pct" VARCHAR(40) NOT NULL,
    "reason" VARCHAR(8) NOT NULL
);
CREATE TABLE "quarkbot_api_key" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "prefix" VARCHAR(16) NOT NULL UNIQUE,
    "key_hash" VARCHAR(64) NOT NULL,
    "role" VARCHAR(16) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "last_used_at" TIMESTAMP,
    "revoked_at" TIMESTAMP,
    "user_id" INT NOT NULL REFERENCES "quarkbot_user" ("id") ON DELETE CASCADE
);
CREATE TABLE "quarkbot_audit_log" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "seq" BIGINT NOT NULL UNIQUE,
    "ts" TIMESTAMP NOT NULL,
    "actor" VARCHAR(100) NOT NULL,
    "actor_type" VARCHAR(16) NOT NULL,
    "method" VARCHAR(10) NOT NULL,
    "path" VARCHAR(500) NOT NULL,
    "status" INT NOT NULL,
    "request_id" VARCHAR(64) NOT NULL,
    "client_ip" VARCHAR(64),
    "action" VARCHAR(100),
    "prev_hash" VARCHAR(64) NOT NULL,
    "hash" VARCHAR(64) NOT NULL
);
CREATE TABLE "quarkbot_job_effect" (
    "key" VARCHAR(255) NOT NULL  PRIMARY KEY,
    "created_at" TIMESTAMP NOT NULL
);
CREATE TABLE "quarkbot_job_run" (
    "job_id" VARCHAR(100) NOT NULL  PRIMARY KEY,
    "name" VARCHAR(200) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "tries" INT NOT NULL,
    "enqueued_at" TIMESTAMP,
    "started_at" TIMESTAMP,
    "finished_at" TIMESTAMP,
    "result" JSON,
    "error" TEXT,
    "enqueued_by" VARCHAR(100)
);
CREATE TABLE "quarkbot_revoked_token" (
    "jti" VARCHAR(64) NOT NULL  PRIMARY KEY,
    "expires_at" TIMESTAMP NOT NULL
);
CREATE TABLE "quarkbot_user" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "username" VARCHAR(64) NOT NULL UNIQUE,
    "password_hash" VARCHAR(255) NOT NULL,
    "role" VARCHAR(16) NOT NULL,
    "is_active" INT NOT NULL,
    "token_version" INT NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL
);
CREATE TABLE "risk_circuit_breaker" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(32) NOT NULL UNIQUE,
    "enabled" INT NOT NULL,
    "threshold" VARCHAR(40) NOT NULL,
    "window_seconds" INT NOT NULL,
    "min_samples" INT NOT NULL,
    "cooldown_seconds" INT NOT NULL,
    "half_open" INT NOT NULL,
    "state" VARCHAR(10) NOT NULL,
    "reason" VARCHAR(500),
    "value" VARCHAR(40),
    "tripped_at" TIMESTAMP,
    "retry_at" TIMESTAMP,
    "trips" INT NOT NULL,
    "data" JSON NOT NULL,
    "updated_at" TIMESTAMP NOT NULL
);
CREATE TABLE "risk_equity_sample" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "account" VARCHAR(64) NOT NULL,
    "bucket" TIMESTAMP NOT NULL,
    "equity" VARCHAR(40) NOT NULL,
    "ts" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_risk_equity_account_1d539c" UNIQUE ("account", "bucket")
);
CREATE TABLE "risk_trading_state" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "reason" VARCHAR(500),
    "activated_by" VARCHAR(100),
    "activated_at" TIMESTAMP,
    "cooldown_until" TIMESTAMP,
    "version" INT NOT NULL,
    "limits" JSON NOT NULL,
    "limits_updated_by" VARCHAR(100),
    "limits_updated_at" TIMESTAMP,
    "peak_equity" VARCHAR(40),
    "updated_at" TIMESTAMP NOT NULL
);
CREATE TABLE "strategies_instance" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "owner" VARCHAR(100) NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "type" VARCHAR(64) NOT NULL,
    "description" TEXT NOT NULL,
    "parameters" JSON NOT NULL,
    "symbols" JSON NOT NULL,
    "timeframe" VARCHAR(8) NOT NULL,
    "is_active" INT NOT NULL,
    "auto_trade" INT NOT NULL,
    "trade_quantity" VARCHAR(40) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_strategies__owner_3f9960" UNIQUE ("owner", "name")
);
CREATE TABLE "strategies_ml_model" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "strategy_id" INT NOT NULL,
    "symbol" VARCHAR(32) NOT NULL,
    "timeframe" VARCHAR(8) NOT NULL,
    "params" JSON NOT NULL,
    "features" JSON NOT NULL,
    "blob" BLOB NOT NULL,
    "samples" INT NOT NULL,
    "train_accuracy" REAL,
    "trained_from" TIMESTAMP,
    "trained_until" TIMESTAMP,
    "job_id" VARCHAR(100),
    "trained_at" TIMESTAMP NOT NULL
);
CREATE TABLE "strategies_signal" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "strategy_id" INT NOT NULL,
    "strategy_name" VARCHAR(100) NOT NULL,
    "symbol" VARCHAR(32) NOT NULL,
    "side" VARCHAR(4) NOT NULL,
    "confidence" REAL NOT NULL,
    "reasoning" TEXT NOT NULL,
    "ts" TIMESTAMP NOT NULL,
    "price" VARCHAR(40) NOT NULL,
    "client_order_id" VARCHAR(64),
    "order_id" INT,
    "order_status" VARCHAR(32),
    "order_error" TEXT,
    "published_at" TIMESTAMP,
    "created_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_strategies__strateg_87be7c" UNIQUE ("strategy_id", "symbol", "ts", "side")
);
CREATE TABLE "tortoise_migrations" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "app" VARCHAR(255) NOT NULL,
    "name" VARCHAR(255) NOT NULL,
    "applied_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_tortoise_mi_app_3803a5" UNIQUE ("app", "name")
);
INSERT INTO "tortoise_migrations" VALUES(1,'example','0001_initial','2026-12-02 14:46:16.572392+00:00');
INSERT INTO "tortoise_migrations" VALUES(2,'hedging','0001_initial','2026-12-02 14:46:16.592830+00:00');
INSERT INTO "tortoise_migrations" VALUES(3,'hedging','0002_slots','2026-12-02 14:46:16.617422+00:00');
INSERT INTO "tortoise_migrations" VALUES(4,'alerts','0001_initial','2026-12-02 14:46:16.720187+00:00');
INSERT INTO "tortoise_migrations" VALUES(5,'metrics','0001_initial','2026-12-02 14:46:16.772588+00:00');
INSERT INTO "tortoise_migrations" VALUES(6,'backtests','0001_initial','2026-12-02 14:46:16.995138+00:00');
INSERT INTO "tortoise_migrations" VALUES(7,'strategies','0001_initial','2026-12-02 14:46:17.360455+00:00');
INSERT INTO "tortoise_migrations" VALUES(8,'budget','0001_initial','2026-12-02 14:46:17.556303+00:00');
INSERT INTO "tortoise_migrations" VALUES(9,'risk','0001_initial','2026-12-02 14:46:18.052731+00:00');
INSERT INTO "tortoise_migrations" VALUES(10,'portfolio','0001_initial','2026-12-02 14:46:18.113764+00:00');
INSERT INTO "tortoise_migrations" VALUES(11,'trading','0001_initial','2026-12-02 14:46:18.830358+00:00');
INSERT INTO "tortoise_migrations" VALUES(12,'market_data','0001_initial','2026-12-02 14:46:18.930787+00:00');
INSERT INTO "tortoise_migrations" VALUES(13,'quarkbot','0001_initial','2026-12-02 14:46:19.860767+00:00');
CREATE TABLE "trading_cash_balance" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "account" VARCHAR(64) NOT NULL,
    "currency" VARCHAR(16) NOT NULL,
    "amount" VARCHAR(40) NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_trading_cas_account_2251d7" UNIQUE ("account", "currency")
);
INSERT INTO "trading_cash_balance" VALUES(1,'paper','USD','1000','2026-01-01 00:00:00');
CREATE TABLE "trading_cash_entry" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "account" VARCHAR(64) NOT NULL,
    "currency" VARCHAR(16) NOT NULL,
    "amount" VARCHAR(40) NOT NULL,
    "balance_after" VARCHAR(40) NOT NULL,
    "reason" VARCHAR(32) NOT NULL,
    "ts" TIMESTAMP NOT NULL,
    "fill_id" INT REFERENCES "trading_fill" ("id") ON DELETE RESTRICT
);
CREATE TABLE "trading_fill" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "fill_id" VARCHAR(100) NOT NULL UNIQUE,
    "account" VARCHAR(64) NOT NULL,
    "symbol" VARCHAR(32) NOT NULL,
    "side" VARCHAR(4) NOT NULL,
    "quantity" VARCHAR(40) NOT NULL,
    "price" VARCHAR(40) NOT NULL,
    "fee" VARCHAR(40) NOT NULL,
    "fee_currency" VARCHAR(16) NOT NULL,
    "liquidity" VARCHAR(5) NOT NULL,
    "realized_pnl" VARCHAR(40) NOT NULL,
    "strategy_id" VARCHAR(64),
    "ts" TIMESTAMP NOT NULL,
    "order_id" INT NOT NULL REFERENCES "trading_order" ("id") ON DELETE RESTRICT
);
CREATE TABLE "trading_order" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "account" VARCHAR(64) NOT NULL,
    "client_order_id" VARCHAR(64) NOT NULL,
    "request_hash" VARCHAR(64) NOT NULL,
    "symbol" VARCHAR(32) NOT NULL,
    "side" VARCHAR(4) NOT NULL,
    "type" VARCHAR(16) NOT NULL,
    "time_in_force" VARCHAR(8) NOT NULL,
    "quantity" VARCHAR(40) NOT NULL,
    "price" VARCHAR(40),
    "stop_price" VARCHAR(40),
    "leverage" VARCHAR(40) NOT NULL,
    "reduce_only" INT NOT NULL,
    "strategy_id" VARCHAR(64),
    "strategy_name" VARCHAR(128),
    "status" VARCHAR(20) NOT NULL,
    "filled_quantity" VARCHAR(40) NOT NULL,
    "avg_fill_price" VARCHAR(40),
    "fees" VARCHAR(40) NOT NULL,
    "deny_code" VARCHAR(64),
    "deny_reason" VARCHAR(500),
    "deny_plugin" VARCHAR(64),
    "broker" VARCHAR(32) NOT NULL,
    "broker_order_id" VARCHAR(64),
    "arrival_mid" VARCHAR(40),
    "created_by" VARCHAR(100) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "submitted_at" TIMESTAMP,
    "closed_at" TIMESTAMP,
    CONSTRAINT "uid_trading_ord_account_9f353e" UNIQUE ("account", "client_order_id")
);
CREATE TABLE "trading_paper_fill" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "fill_id" VARCHAR(100) NOT NULL UNIQUE,
    "quantity" VARCHAR(40) NOT NULL,
    "price" VARCHAR(40) NOT NULL,
    "fee" VARCHAR(40) NOT NULL,
    "liquidity" VARCHAR(5) NOT NULL,
    "ts" TIMESTAMP NOT NULL,
    "paper_order_id" INT NOT NULL REFERENCES "trading_paper_order" ("id") ON DELETE RESTRICT
);
CREATE TABLE "trading_paper_order" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "account" VARCHAR(64) NOT NULL,
    "client_order_id" VARCHAR(64) NOT NULL,
    "symbol" VARCHAR(32) NOT NULL,
    "side" VARCHAR(4) NOT NULL,
    "type" VARCHAR(16) NOT NULL,
    "time_in_force" VARCHAR(8) NOT NULL,
    "quantity" VARCHAR(40) NOT NULL,
    "price" VARCHAR(40),
    "stop_price" VARCHAR(40),
    "status" VARCHAR(16) NOT NULL,
    "triggered" INT NOT NULL,
    "rested" INT NOT NULL,
    "filled_quantity" VARCHAR(40) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_trading_pap_account_cbd38b" UNIQUE ("account", "client_order_id")
);
CREATE TABLE "trading_position" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "account" VARCHAR(64) NOT NULL,
    "symbol" VARCHAR(32) NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "base_currency" VARCHAR(16) NOT NULL,
    "quote_currency" VARCHAR(16) NOT NULL,
    "quantity" VARCHAR(40) NOT NULL,
    "avg_price" VARCHAR(40) NOT NULL,
    "leverage" VARCHAR(40) NOT NULL,
    "realized_pnl" VARCHAR(40) NOT NULL,
    "fees" VARCHAR(40) NOT NULL,
    "opened_at" TIMESTAMP,
    "closed_at" TIMESTAMP,
    "updated_at" TIMESTAMP NOT NULL,
    CONSTRAINT "uid_trading_pos_account_8eb502" UNIQUE ("account", "symbol")
);
CREATE TABLE "trading_trade" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "account" VARCHAR(64) NOT NULL,
    "symbol" VARCHAR(32) NOT NULL,
    "direction" VARCHAR(5) NOT NULL,
    "quantity" VARCHAR(40) NOT NULL,
    "entry_price" VARCHAR(40) NOT NULL,
    "exit_price" VARCHAR(40) NOT NULL,
    "pnl" VARCHAR(40) NOT NULL,
    "return_pct" VARCHAR(40) NOT NULL,
    "fees" VARCHAR(40) NOT NULL,
    "opened_at" TIMESTAMP NOT NULL,
    "closed_at" TIMESTAMP NOT NULL,
    "strategy_id" VARCHAR(64),
    "closing_fill_id" INT NOT NULL REFERENCES "trading_fill" ("id") ON DELETE RESTRICT
);
CREATE INDEX "idx_hedging_exe_status_5347d9" ON "hedging_execution" ("status");
CREATE INDEX "idx_hedging_exe_created_42754f" ON "hedging_execution" ("created_at");
CREATE INDEX "idx_hedging_leg_symbol_92bca5" ON "hedging_leg" ("symbol");
CREATE INDEX "idx_hedging_leg_status_23cfac" ON "hedging_leg" ("status");
CREATE INDEX "idx_hedging_leg_placed__1cd751" ON "hedging_leg" ("placed_at");
CREATE INDEX "idx_alerts_aler_fingerp_b2e7cb" ON "alerts_alert" ("fingerprint");
CREATE INDEX "idx_alerts_aler_source_01fbcc" ON "alerts_alert" ("source");
CREATE INDEX "idx_alerts_aler_rule_id_7e26e3" ON "alerts_alert" ("rule_id");
CREATE INDEX "idx_alerts_aler_severit_3155d4" ON "alerts_alert" ("severity");
CREATE INDEX "idx_alerts_aler_status_f8e3d2" ON "alerts_alert" ("status");
CREATE INDEX "idx_alerts_aler_started_01b4d4" ON "alerts_alert" ("started_at");
CREATE INDEX "idx_alerts_rule_metric_3f96fc" ON "alerts_rule" ("metric");
CREATE INDEX "idx_alerts_deli_target__25b297" ON "alerts_delivery" ("target_id");
CREATE INDEX "idx_alerts_deli_alert_i_4e3fd7" ON "alerts_delivery" ("alert_id");
CREATE INDEX "idx_alerts_deli_next_at_1986e5" ON "alerts_delivery" ("next_attempt_at");
CREATE INDEX "idx_metrics_poi_metric_9d43f7" ON "metrics_point" ("metric", "resolution", "ts");
CREATE INDEX "idx_backtests_b_created_dbcb75" ON "backtests_backtest" ("created_by");
CREATE INDEX "idx_backtests_b_strateg_e31714" ON "backtests_backtest" ("strategy_id");
CREATE INDEX "idx_backtests_b_status_37e0f0" ON "backtests_backtest" ("status");
CREATE INDEX "idx_backtests_r_backtes_b7970b" ON "backtests_row" ("backtest_id", "sharpe_ratio");
CREATE INDEX "idx_backtests_r_backtes_4ac639" ON "backtests_row" ("backtest_id", "total_return_pct");
CREATE INDEX "idx_strategies__strateg_4b2f65" ON "strategies_ml_model" ("strategy_id");
CREATE INDEX "idx_strategies__strateg_f921c2" ON "strategies_signal" ("strategy_id");
CREATE INDEX "idx_strategies__owner_010e37" ON "strategies_instance" ("owner");
CREATE INDEX "idx_strategies__is_acti_e444e3" ON "strategies_instance" ("is_active");
CREATE INDEX "idx_budget_ledg_strateg_50401a" ON "budget_ledger" ("strategy_id");
CREATE INDEX "idx_budget_rese_status_280252" ON "budget_reservation" ("status");
CREATE INDEX "idx_portfolio_s_account_25056c" ON "portfolio_snapshot" ("account", "ts");
CREATE INDEX "idx_trading_ord_symbol_dbbaa0" ON "trading_order" ("symbol");
CREATE INDEX "idx_trading_ord_strateg_9b080a" ON "trading_order" ("strategy_id");
CREATE INDEX "idx_trading_ord_status_f2df7b" ON "trading_order" ("status");
CREATE INDEX "idx_trading_ord_created_f8bca8" ON "trading_order" ("created_at");
CREATE INDEX "idx_trading_fil_symbol_17ec8f" ON "trading_fill" ("symbol");
CREATE INDEX "idx_trading_fil_strateg_d1051a" ON "trading_fill" ("strategy_id");
CREATE INDEX "idx_trading_fil_ts_cb044b" ON "trading_fill" ("ts");
CREATE INDEX "idx_trading_cas_ts_458597" ON "trading_cash_entry" ("ts");
CREATE INDEX "idx_trading_pap_symbol_3c58f4" ON "trading_paper_order" ("symbol");
CREATE INDEX "idx_trading_pap_status_697845" ON "trading_paper_order" ("status");
CREATE INDEX "idx_trading_tra_symbol_40c763" ON "trading_trade" ("symbol");
CREATE INDEX "idx_trading_tra_closed__2ebd88" ON "trading_trade" ("closed_at");
CREATE INDEX "idx_trading_tra_strateg_af4cfd" ON "trading_trade" ("strategy_id");
CREATE INDEX "idx_quarkbot_au_ts_6cefcb" ON "quarkbot_audit_log" ("ts");
CREATE INDEX "idx_quarkbot_au_actor_df17b4" ON "quarkbot_audit_log" ("actor");
CREATE INDEX "idx_quarkbot_jo_name_6bf9ad" ON "quarkbot_job_run" ("name");
CREATE INDEX "idx_quarkbot_jo_status_d0f217" ON "quarkbot_job_run" ("status");
CREATE INDEX "idx_quarkbot_re_expires_6417f1" ON "quarkbot_revoked_token" ("expires_at");
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('tortoise_migrations',13);
INSERT INTO "sqlite_sequence" VALUES('trading_cash_balance',1);
COMMIT;
