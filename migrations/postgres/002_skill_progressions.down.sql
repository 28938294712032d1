-- 002_skill_progressions.down.sql
-- Reverts 002: the history first (it references skill_progressions), then the skills, then the
-- shared trigger function (no table uses it any more once 003..007 are downgraded). Indexes,
-- constraints and triggers go with their tables.
DROP TABLE IF EXISTS skill_progression_events;
DROP TABLE IF EXISTS skill_progressions;
DROP FUNCTION IF EXISTS relational_set_updated_at();
