-- 002_skill_progressions.up.sql
-- Skills the agent is learning and how its proficiency in them evolves.
--
--   skill_progressions        one row per (agent, skill): the current state, updated in place
--   skill_progression_events  append-only history of proficiency changes ("level over time")
--
-- Also creates relational_set_updated_at(), the shared BEFORE UPDATE trigger function that keeps
-- updated_at current on the mutable tables of this and later postgres migrations (003..007 use it;
-- it is dropped by 002's down file, after they are gone).

CREATE OR REPLACE FUNCTION relational_set_updated_at() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION relational_set_updated_at() IS
    'BEFORE UPDATE trigger function: sets NEW.updated_at to now(). Owned by postgres_002.';

CREATE TABLE IF NOT EXISTS skill_progressions (
    id                    UUID         PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id              VARCHAR(64)  NOT NULL,
    skill_name            VARCHAR(200) NOT NULL,
    category              VARCHAR(64),
    description           TEXT,
    -- The learned procedure that embodies the skill, when there is one. Forgetting the
    -- procedure must not erase the progression history, so the link is just cleared.
    procedural_memory_id  UUID,
    -- Proficiency on a 0..1 scale; stage is the coarse label derived from it by the agent.
    proficiency           NUMERIC(5,4) NOT NULL DEFAULT 0,
    target_proficiency    NUMERIC(5,4),
    stage                 VARCHAR(16)  NOT NULL DEFAULT 'novice',
    practice_count        INTEGER      NOT NULL DEFAULT 0,
    success_count         INTEGER      NOT NULL DEFAULT 0,
    last_practiced_at     TIMESTAMPTZ,
    metadata              JSONB        NOT NULL DEFAULT '{}'::jsonb,
    created_at            TIMESTAMPTZ  NOT NULL DEFAULT now(),
    updated_at            TIMESTAMPTZ  NOT NULL DEFAULT now(),
    CONSTRAINT uq_skill_progressions_agent_skill UNIQUE (agent_id, skill_name),
    CONSTRAINT fk_skill_progressions_procedural_memory
        FOREIGN KEY (procedural_memory_id) REFERENCES procedural_memories (id) ON DELETE SET NULL,
    CONSTRAINT ck_skill_progressions_skill_name_not_blank CHECK (btrim(skill_name) <> ''),
    CONSTRAINT ck_skill_progressions_proficiency_range CHECK (proficiency BETWEEN 0 AND 1),
    CONSTRAINT ck_skill_progressions_target_range
        CHECK (target_proficiency IS NULL OR target_proficiency BETWEEN 0 AND 1),
    CONSTRAINT ck_skill_progressions_stage
        CHECK (stage IN ('novice', 'beginner', 'competent', 'proficient', 'expert')),
    CONSTRAINT ck_skill_progressions_counts
        CHECK (practice_count >= 0 AND success_count >= 0 AND success_count <= practice_count),
    CONSTRAINT ck_skill_progressions_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);

-- (agent_id, skill_name) is already indexed by its unique constraint.
CREATE INDEX IF NOT EXISTS idx_skill_progressions_agent_category
    ON skill_progressions (agent_id, category);
-- Skills due for practice: least recently practised first.
CREATE INDEX IF NOT EXISTS idx_skill_progressions_agent_last_practiced
    ON skill_progressions (agent_id, last_practiced_at);
-- Supports ON DELETE SET NULL from procedural_memories without a sequential scan.
CREATE INDEX IF NOT EXISTS idx_skill_progressions_procedural_memory
    ON skill_progressions (procedural_memory_id) WHERE procedural_memory_id IS NOT NULL;

CREATE OR REPLACE TRIGGER trg_skill_progressions_updated_at
    BEFORE UPDATE ON skill_progressions
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION relational_set_updated_at();

COMMENT ON TABLE skill_progressions IS
    'Skills an agent is learning: current proficiency (0..1), stage and practice counters.';
COMMENT ON COLUMN skill_progressions.procedural_memory_id IS
    'Optional link to the procedural memory that implements the skill (cleared if it is deleted).';

-- One row per proficiency change. Never updated: a correction is a new event.
CREATE TABLE IF NOT EXISTS skill_progression_events (
    id                    BIGINT       GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    skill_progression_id  UUID         NOT NULL,
    recorded_at           TIMESTAMPTZ  NOT NULL DEFAULT now(),
    proficiency_before    NUMERIC(5,4) NOT NULL,
    proficiency_after     NUMERIC(5,4) NOT NULL,
    delta                 NUMERIC(6,4) GENERATED ALWAYS AS (proficiency_after - proficiency_before) STORED,
    -- What caused the change.
    reason                VARCHAR(16)  NOT NULL,
    -- The episode (TimescaleDB episodic_memories) that caused it, if any: another store, so no FK.
    episode_id            UUID,
    notes                 TEXT,
    details               JSONB        NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT fk_skill_progression_events_skill_progression
        FOREIGN KEY (skill_progression_id) REFERENCES skill_progressions (id) ON DELETE CASCADE,
    CONSTRAINT ck_skill_progression_events_proficiency_range
        CHECK (proficiency_before BETWEEN 0 AND 1 AND proficiency_after BETWEEN 0 AND 1),
    CONSTRAINT ck_skill_progression_events_reason
        CHECK (reason IN ('practice', 'feedback', 'evaluation', 'decay', 'manual')),
    CONSTRAINT ck_skill_progression_events_details_object CHECK (jsonb_typeof(details) = 'object')
);

-- The history of one skill, newest first (also serves the FK's ON DELETE CASCADE).
CREATE INDEX IF NOT EXISTS idx_skill_progression_events_skill_recorded
    ON skill_progression_events (skill_progression_id, recorded_at DESC);

COMMENT ON TABLE skill_progression_events IS
    'Append-only history of proficiency changes of a skill_progressions row (level over time).';
