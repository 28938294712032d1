-- 006_portfolio_transactions.up.sql
-- The ledger of everything that happened in a portfolio: trades, income, costs and cash moves.
-- Append-only (no updated_at): a mistake is corrected by a reversing entry, so holdings can
-- always be rebuilt by replaying a portfolio's rows in executed_at order.
--
-- Amounts are unsigned; the direction follows from transaction_type:
--   buy, fee, tax, withdrawal            cash out
--   sell, dividend, interest, deposit    cash in

CREATE TABLE IF NOT EXISTS portfolio_transactions (
    id                UUID           PRIMARY KEY DEFAULT gen_random_uuid(),
    portfolio_id      UUID           NOT NULL,
    -- The position the transaction belongs to: required for trades, optional for dividends and
    -- fees on a position, NULL for portfolio-level cash moves.
    holding_id        UUID,
    transaction_type  VARCHAR(16)    NOT NULL,
    -- Denormalised from the holding so that the ledger reads on its own (and dividends can be
    -- recorded for a symbol whose holding row is missing).
    symbol            VARCHAR(32),
    quantity          NUMERIC(28,10),
    price             NUMERIC(28,10),
    -- Gross amount in currency: quantity * price for trades, the cash amount otherwise.
    amount            NUMERIC(24,8)  NOT NULL,
    -- Commissions and taxes charged on top of amount (a standalone fee uses type 'fee').
    fees              NUMERIC(24,8)  NOT NULL DEFAULT 0,
    currency          CHAR(3)        NOT NULL,
    -- Rate to convert amount into the portfolio's base currency at execution, when it differs.
    fx_rate           NUMERIC(20,10),
    executed_at       TIMESTAMPTZ    NOT NULL,
    settled_at        TIMESTAMPTZ,
    -- The broker's id: re-importing a statement must not duplicate rows.
    external_id       VARCHAR(128),
    notes             TEXT,
    metadata          JSONB          NOT NULL DEFAULT '{}'::jsonb,
    created_at        TIMESTAMPTZ    NOT NULL DEFAULT now(),
    CONSTRAINT uq_portfolio_transactions_portfolio_external_id UNIQUE (portfolio_id, external_id),
    -- Composite key: the holding must exist and belong to the same portfolio. RESTRICT keeps the
    -- ledger intact (a holding with transactions cannot be deleted).
    CONSTRAINT fk_portfolio_transactions_holding
        FOREIGN KEY (holding_id, portfolio_id) REFERENCES portfolio_holdings (id, portfolio_id)
        ON DELETE RESTRICT,
    CONSTRAINT ck_portfolio_transactions_type CHECK (
        transaction_type IN ('buy', 'sell', 'dividend', 'interest', 'fee', 'tax', 'deposit', 'withdrawal')),
    -- Trades name their position, a positive quantity and a price.
    CONSTRAINT ck_portfolio_transactions_trade_fields CHECK (
        transaction_type NOT IN ('buy', 'sell')
        OR (holding_id IS NOT NULL AND symbol IS NOT NULL AND quantity > 0 AND price IS NOT NULL)),
    -- Only trades move shares.
    CONSTRAINT ck_portfolio_transactions_quantity_only_for_trades CHECK (
        transaction_type IN ('buy', 'sell') OR quantity IS NULL),
    CONSTRAINT ck_portfolio_transactions_dividend_symbol CHECK (
        transaction_type <> 'dividend' OR symbol IS NOT NULL),
    CONSTRAINT ck_portfolio_transactions_symbol_format CHECK (
        symbol IS NULL OR (symbol <> '' AND symbol = upper(btrim(symbol)))),
    CONSTRAINT ck_portfolio_transactions_price_nonnegative CHECK (price IS NULL OR price >= 0),
    CONSTRAINT ck_portfolio_transactions_amount_nonnegative CHECK (amount >= 0),
    CONSTRAINT ck_portfolio_transactions_fees_nonnegative CHECK (fees >= 0),
    CONSTRAINT ck_portfolio_transactions_currency_format CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT ck_portfolio_transactions_fx_rate_positive CHECK (fx_rate IS NULL OR fx_rate > 0),
    CONSTRAINT ck_portfolio_transactions_settled_after_executed CHECK (
        settled_at IS NULL OR settled_at >= executed_at),
    CONSTRAINT ck_portfolio_transactions_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);

-- A portfolio's ledger, newest first (statements, replays, "last N transactions").
CREATE INDEX IF NOT EXISTS idx_portfolio_transactions_portfolio_executed
    ON portfolio_transactions (portfolio_id, executed_at DESC);
-- A position's history; also lets the FK check deletes of holdings without a scan.
CREATE INDEX IF NOT EXISTS idx_portfolio_transactions_holding_executed
    ON portfolio_transactions (holding_id, executed_at DESC) WHERE holding_id IS NOT NULL;
-- Income and cost reports per portfolio and type (dividends this year, fees paid...).
CREATE INDEX IF NOT EXISTS idx_portfolio_transactions_portfolio_type_executed
    ON portfolio_transactions (portfolio_id, transaction_type, executed_at DESC);

COMMENT ON TABLE portfolio_transactions IS
    'Append-only ledger of buys, sells, dividends, interest, fees, taxes, deposits and withdrawals.';
COMMENT ON COLUMN portfolio_transactions.amount IS
    'Unsigned gross amount in currency; the sign follows from transaction_type.';
COMMENT ON COLUMN portfolio_transactions.external_id IS
    'Broker reference, unique per portfolio, making statement imports idempotent.';
