-- 007_portfolio_preferences.up.sql
-- How each portfolio should be managed: risk profile, target allocation and rebalancing rules.
-- One row per portfolio (portfolio_id is the key, as in portfolio_holdings).
--
-- target_allocations maps an allocation bucket (asset class such as 'equity', or a symbol) to
-- its target weight as a fraction: {"equity": 0.6, "bond": 0.3, "cash": 0.1}. The weights are
-- checked by portfolio_target_allocations_valid(): numbers in 0..1 that sum to 1 (within
-- 0.0001), or an empty object while no target is set.

CREATE OR REPLACE FUNCTION portfolio_target_allocations_valid(allocations JSONB) RETURNS BOOLEAN
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$
    SELECT jsonb_typeof(allocations) = 'object'
       AND (allocations = '{}'::jsonb
            OR (SELECT bool_and(CASE WHEN jsonb_typeof(w.weight) = 'number'
                                     THEN w.weight::numeric BETWEEN 0 AND 1
                                     ELSE false END)
                       AND abs(sum(CASE WHEN jsonb_typeof(w.weight) = 'number'
                                        THEN w.weight::numeric END) - 1) <= 0.0001
                  FROM jsonb_each(allocations) AS w(bucket, weight)))
$$;

COMMENT ON FUNCTION portfolio_target_allocations_valid(JSONB) IS
    'True when a target allocation object has weights in 0..1 summing to 1 (or is empty). Owned by postgres_007.';

CREATE TABLE IF NOT EXISTS portfolio_preferences (
    portfolio_id              UUID          PRIMARY KEY,
    risk_tolerance            VARCHAR(24)   NOT NULL DEFAULT 'moderate',
    investment_horizon_years  SMALLINT,
    -- Currency in which the portfolio is valued and reported.
    base_currency             CHAR(3)       NOT NULL DEFAULT 'USD',
    target_allocations        JSONB         NOT NULL DEFAULT '{}'::jsonb,
    -- calendar: rebalance every rebalance_frequency; threshold: whenever a weight drifts from its
    -- target by more than rebalance_threshold; hybrid: check on the calendar, act past the
    -- threshold; none: never rebalance automatically.
    rebalance_strategy        VARCHAR(16)   NOT NULL DEFAULT 'threshold',
    rebalance_frequency       VARCHAR(16),
    -- Absolute drift as a fraction of portfolio value: 0.05 means 5 percentage points.
    rebalance_threshold       NUMERIC(5,4)  DEFAULT 0.05,
    -- Trades smaller than this (in base_currency) are skipped when rebalancing.
    min_trade_amount          NUMERIC(20,4) NOT NULL DEFAULT 0,
    -- Upper bound for any single position's weight (concentration limit).
    max_position_weight       NUMERIC(5,4),
    excluded_symbols          VARCHAR(32)[] NOT NULL DEFAULT '{}',
    -- Free-form extras (tax-lot method, ESG screens...).
    settings                  JSONB         NOT NULL DEFAULT '{}'::jsonb,
    last_rebalanced_at        TIMESTAMPTZ,
    created_at                TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at                TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT ck_portfolio_preferences_risk_tolerance CHECK (
        risk_tolerance IN ('conservative', 'moderately_conservative', 'moderate',
                           'moderately_aggressive', 'aggressive')),
    CONSTRAINT ck_portfolio_preferences_horizon_positive CHECK (
        investment_horizon_years IS NULL OR investment_horizon_years > 0),
    CONSTRAINT ck_portfolio_preferences_base_currency_format CHECK (base_currency ~ '^[A-Z]{3}$'),
    CONSTRAINT ck_portfolio_preferences_target_allocations_object CHECK (
        jsonb_typeof(target_allocations) = 'object'),
    CONSTRAINT ck_portfolio_preferences_target_allocations_weights CHECK (
        portfolio_target_allocations_valid(target_allocations)),
    CONSTRAINT ck_portfolio_preferences_rebalance_strategy CHECK (
        rebalance_strategy IN ('calendar', 'threshold', 'hybrid', 'none')),
    CONSTRAINT ck_portfolio_preferences_rebalance_frequency CHECK (
        rebalance_frequency IS NULL
        OR rebalance_frequency IN ('weekly', 'monthly', 'quarterly', 'semiannually', 'annually')),
    CONSTRAINT ck_portfolio_preferences_rebalance_threshold_range CHECK (
        rebalance_threshold IS NULL OR (rebalance_threshold > 0 AND rebalance_threshold <= 1)),
    -- Each strategy has the parameters it needs.
    CONSTRAINT ck_portfolio_preferences_calendar_needs_frequency CHECK (
        rebalance_strategy NOT IN ('calendar', 'hybrid') OR rebalance_frequency IS NOT NULL),
    CONSTRAINT ck_portfolio_preferences_threshold_needs_threshold CHECK (
        rebalance_strategy NOT IN ('threshold', 'hybrid') OR rebalance_threshold IS NOT NULL),
    CONSTRAINT ck_portfolio_preferences_min_trade_nonnegative CHECK (min_trade_amount >= 0),
    CONSTRAINT ck_portfolio_preferences_max_position_weight_range CHECK (
        max_position_weight IS NULL OR (max_position_weight > 0 AND max_position_weight <= 1)),
    CONSTRAINT ck_portfolio_preferences_settings_object CHECK (jsonb_typeof(settings) = 'object')
);

-- portfolio_id is the primary key. The rebalancing job scans portfolios by strategy, oldest
-- rebalance first.
CREATE INDEX IF NOT EXISTS idx_portfolio_preferences_strategy_last_rebalanced
    ON portfolio_preferences (rebalance_strategy, last_rebalanced_at NULLS FIRST)
    WHERE rebalance_strategy <> 'none';

CREATE OR REPLACE TRIGGER trg_portfolio_preferences_updated_at
    BEFORE UPDATE ON portfolio_preferences
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION relational_set_updated_at();

COMMENT ON TABLE portfolio_preferences IS
    'Per-portfolio risk tolerance, target allocation and rebalancing rules.';
COMMENT ON COLUMN portfolio_preferences.target_allocations IS
    'Bucket (asset class or symbol) to target weight in 0..1; the weights sum to 1. Empty while unset.';
COMMENT ON COLUMN portfolio_preferences.rebalance_threshold IS
    'Absolute drift from a target weight that triggers a rebalance, as a fraction (0.05 = 5 points).';
