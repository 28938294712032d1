-- 006_portfolio_transactions.down.sql
-- Reverts 006: indexes and constraints (including the FK to portfolio_holdings) go with the table.
DROP TABLE IF EXISTS portfolio_transactions;
