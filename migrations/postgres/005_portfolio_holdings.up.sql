-- 005_portfolio_holdings.up.sql
-- Current positions of the portfolios the agent tracks: one row per (portfolio, symbol).
--
-- A portfolio is identified by portfolio_id alone (there is no portfolios table yet). Money and
-- quantities are NUMERIC, never floating point: quantities allow fractional shares and crypto
-- (10 decimals), amounts 8 decimals. Positions are long-only. A position that is sold out keeps
-- its row (quantity 0, closed_at set) because portfolio_transactions (006) reference it.

CREATE TABLE IF NOT EXISTS portfolio_holdings (
    id            UUID           PRIMARY KEY DEFAULT gen_random_uuid(),
    portfolio_id  UUID           NOT NULL,
    -- Ticker as quoted by the data provider, upper case: 'AAPL', 'BRK.B', 'BTC-USD'.
    symbol        VARCHAR(32)    NOT NULL,
    exchange      VARCHAR(16),
    asset_class   VARCHAR(16)    NOT NULL DEFAULT 'equity',
    quantity      NUMERIC(28,10) NOT NULL DEFAULT 0,
    -- Total cost of the shares held, in currency (fees included).
    cost_basis    NUMERIC(24,8)  NOT NULL DEFAULT 0,
    average_cost  NUMERIC(28,10) GENERATED ALWAYS AS (
                      CASE WHEN quantity > 0 THEN round(cost_basis / quantity, 10) END) STORED,
    -- ISO 4217 code of the instrument's trading currency.
    currency      CHAR(3)        NOT NULL,
    opened_at     TIMESTAMPTZ    NOT NULL DEFAULT now(),
    closed_at     TIMESTAMPTZ,
    notes         TEXT,
    metadata      JSONB          NOT NULL DEFAULT '{}'::jsonb,
    created_at    TIMESTAMPTZ    NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ    NOT NULL DEFAULT now(),
    CONSTRAINT uq_portfolio_holdings_portfolio_symbol UNIQUE (portfolio_id, symbol),
    -- Target of portfolio_transactions' composite FK: a transaction's holding must belong to
    -- the transaction's portfolio.
    CONSTRAINT uq_portfolio_holdings_id_portfolio UNIQUE (id, portfolio_id),
    CONSTRAINT ck_portfolio_holdings_symbol_format CHECK (symbol <> '' AND symbol = upper(btrim(symbol))),
    CONSTRAINT ck_portfolio_holdings_asset_class CHECK (
        asset_class IN ('equity', 'etf', 'mutual_fund', 'bond', 'crypto', 'cash', 'commodity', 'option', 'other')),
    CONSTRAINT ck_portfolio_holdings_quantity_nonnegative CHECK (quantity >= 0),
    CONSTRAINT ck_portfolio_holdings_cost_basis_nonnegative CHECK (cost_basis >= 0),
    -- No cost without shares: selling out resets the basis.
    CONSTRAINT ck_portfolio_holdings_flat_has_no_cost CHECK (quantity > 0 OR cost_basis = 0),
    CONSTRAINT ck_portfolio_holdings_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT ck_portfolio_holdings_closed_when_flat CHECK (closed_at IS NULL OR quantity = 0),
    CONSTRAINT ck_portfolio_holdings_closed_after_opened CHECK (closed_at IS NULL OR closed_at >= opened_at),
    CONSTRAINT ck_portfolio_holdings_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);

-- (portfolio_id, symbol) is indexed by its unique constraint and serves per-portfolio reads.
-- Open positions of a portfolio (the usual view).
CREATE INDEX IF NOT EXISTS idx_portfolio_holdings_portfolio_open
    ON portfolio_holdings (portfolio_id) WHERE quantity > 0;
-- Every portfolio holding a symbol (price updates, corporate actions).
CREATE INDEX IF NOT EXISTS idx_portfolio_holdings_symbol
    ON portfolio_holdings (symbol);

-- Unlike the other tables, no WHEN (OLD.* IS DISTINCT FROM NEW.*): a BEFORE trigger's WHEN may
-- not reference NEW's generated columns (average_cost), so every UPDATE bumps updated_at.
CREATE OR REPLACE TRIGGER trg_portfolio_holdings_updated_at
    BEFORE UPDATE ON portfolio_holdings
    FOR EACH ROW EXECUTE FUNCTION relational_set_updated_at();

COMMENT ON TABLE portfolio_holdings IS
    'Current position per portfolio and symbol; the history is in portfolio_transactions.';
COMMENT ON COLUMN portfolio_holdings.cost_basis IS
    'Total cost of the quantity held, fees included, in the holding currency.';
COMMENT ON COLUMN portfolio_holdings.average_cost IS
    'cost_basis / quantity (NULL when flat), maintained by PostgreSQL.';
