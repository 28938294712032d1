-- 005_portfolio_holdings.down.sql
-- Reverts 005: indexes, constraints and the trigger go with the table. No CASCADE: if
-- portfolio_transactions still referenced it (006 not downgraded) this must fail, not cut the FK.
DROP TABLE IF EXISTS portfolio_holdings;
