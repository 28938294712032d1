-- 007_portfolio_preferences.down.sql
-- Reverts 007: the table first (its CHECK calls the function), then the validation function.
-- Indexes, constraints and the trigger go with the table; relational_set_updated_at() is 002's.
DROP TABLE IF EXISTS portfolio_preferences;
DROP FUNCTION IF EXISTS portfolio_target_allocations_valid(JSONB);
