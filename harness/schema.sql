-- The production database's schema, as far as this project knows it (../shared/SPEC.md section 1),
-- with the production-only columns the job ignores. Fixtures, golden cases and tests build
-- databases from this file; the classifier never reads it (it creates its output tables itself).

CREATE TABLE IF NOT EXISTS wallets (
    proxy_wallet TEXT PRIMARY KEY,
    pseudonym TEXT,
    name TEXT,
    bio TEXT,
    discovered_from TEXT NOT NULL,
    discovered_market TEXT,
    discovered_at TEXT NOT NULL,
    total_markets_traded INTEGER,
    on_global_watchlist INTEGER NOT NULL DEFAULT 0,
    is_active INTEGER NOT NULL DEFAULT 1,
    last_updated_at TEXT
);

CREATE TABLE IF NOT EXISTS trades_raw (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    proxy_wallet TEXT NOT NULL,
    condition_id TEXT NOT NULL,
    asset TEXT,
    side TEXT,
    size REAL NOT NULL,
    price REAL NOT NULL,
    timestamp INTEGER NOT NULL,
    outcome TEXT,
    outcome_index INTEGER,
    transaction_hash TEXT,
    raw_json TEXT,
    ingested_at TEXT NOT NULL DEFAULT (datetime('now')),
    UNIQUE(transaction_hash, proxy_wallet, condition_id)
);
CREATE INDEX IF NOT EXISTS idx_trades_raw_wallet ON trades_raw(proxy_wallet);
CREATE INDEX IF NOT EXISTS idx_trades_raw_wallet_ts ON trades_raw(proxy_wallet, timestamp);
CREATE INDEX IF NOT EXISTS idx_trades_raw_condition ON trades_raw(condition_id);
CREATE INDEX IF NOT EXISTS idx_trades_raw_ts ON trades_raw(timestamp);

CREATE TABLE IF NOT EXISTS markets (
    condition_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    slug TEXT,
    category TEXT,
    end_date TEXT,
    closed INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS paper_trades (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    proxy_wallet TEXT NOT NULL,
    condition_id TEXT NOT NULL,
    side TEXT,
    size_usdc REAL,
    entry_price REAL,
    exit_price REAL,
    status TEXT NOT NULL DEFAULT 'open',
    pnl REAL,
    created_at TEXT NOT NULL,
    settled_at TEXT
);
CREATE INDEX IF NOT EXISTS idx_paper_trades_wallet ON paper_trades(proxy_wallet);

CREATE TABLE IF NOT EXISTS paper_positions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    proxy_wallet TEXT NOT NULL,
    condition_id TEXT NOT NULL,
    size_usdc REAL,
    opened_at TEXT
);
CREATE INDEX IF NOT EXISTS idx_paper_positions_wallet ON paper_positions(proxy_wallet);

CREATE TABLE IF NOT EXISTS positions_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    proxy_wallet TEXT NOT NULL,
    condition_id TEXT NOT NULL,
    size REAL,
    avg_price REAL,
    cash_pnl REAL,
    snapshot_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_positions_snapshots_wallet ON positions_snapshots(proxy_wallet, condition_id, snapshot_at);

-- Outputs, as the job creates them when missing.
CREATE TABLE IF NOT EXISTS wallet_personas (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    proxy_wallet TEXT NOT NULL,
    persona TEXT NOT NULL,
    confidence REAL NOT NULL,
    feature_values_json TEXT,
    classified_at TEXT NOT NULL,
    UNIQUE(proxy_wallet, classified_at)
);

CREATE TABLE IF NOT EXISTS wallet_exclusions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    proxy_wallet TEXT NOT NULL,
    reason TEXT NOT NULL,
    metric_value REAL,
    threshold REAL,
    excluded_at TEXT NOT NULL,
    UNIQUE(proxy_wallet, reason)
);

CREATE TABLE IF NOT EXISTS wallet_persona_traits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    proxy_wallet TEXT NOT NULL,
    trait_key TEXT NOT NULL,
    trait_value TEXT NOT NULL,
    computed_at TEXT NOT NULL,
    UNIQUE(proxy_wallet, trait_key)
);

CREATE TABLE IF NOT EXISTS job_status (
    job_name TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    last_run_at TEXT,
    duration_ms INTEGER,
    last_error TEXT,
    metadata TEXT,
    updated_at TEXT NOT NULL
);
