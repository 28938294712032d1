-- 003_semantic_memories.up.sql
-- Semantic memory: what the agent knows, independent of when it learned it.
--
-- A fact is either a (subject, predicate, object) triple, free text (content), or both; the
-- text that is embedded lives in content. The row id is also the id of the fact's vector in
-- the ChromaDB collection semantic_memories (its text form), so a vector hit maps straight to
-- this row and a deleted row names the vector to delete.
--
-- Facts are not overwritten when they change: the old row gets valid_until (and superseded_by)
-- and a new row is inserted, so the agent can still answer what it believed and when.

CREATE TABLE IF NOT EXISTS semantic_memories (
    id                UUID          PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id          VARCHAR(64)   NOT NULL,
    subject           VARCHAR(500),
    predicate         VARCHAR(200),
    object            TEXT,
    content           TEXT,
    attributes        JSONB         NOT NULL DEFAULT '{}'::jsonb,
    confidence        NUMERIC(4,3)  NOT NULL DEFAULT 0.5,
    -- Where the fact came from, and a pointer into that source (URL, episode id, tool call...).
    source            VARCHAR(16)   NOT NULL DEFAULT 'conversation',
    source_ref        TEXT,
    valid_from        TIMESTAMPTZ   NOT NULL DEFAULT now(),
    valid_until       TIMESTAMPTZ,
    superseded_by     UUID,
    -- Set when the vector was written to Chroma; NULL means not embedded yet (or content changed
    -- and the application cleared it to have the fact re-embedded).
    embedding_model   VARCHAR(128),
    embedded_at       TIMESTAMPTZ,
    access_count      INTEGER       NOT NULL DEFAULT 0,
    last_accessed_at  TIMESTAMPTZ,
    created_at        TIMESTAMPTZ   NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ   NOT NULL DEFAULT now(),
    CONSTRAINT fk_semantic_memories_superseded_by
        FOREIGN KEY (superseded_by) REFERENCES semantic_memories (id) ON DELETE SET NULL,
    -- A triple is all or nothing.
    CONSTRAINT ck_semantic_memories_triple_complete CHECK (
        (subject IS NULL AND predicate IS NULL AND object IS NULL)
        OR (subject IS NOT NULL AND predicate IS NOT NULL AND object IS NOT NULL)),
    -- And a fact has at least one form.
    CONSTRAINT ck_semantic_memories_has_fact CHECK (subject IS NOT NULL OR content IS NOT NULL),
    CONSTRAINT ck_semantic_memories_content_not_blank CHECK (content IS NULL OR btrim(content) <> ''),
    CONSTRAINT ck_semantic_memories_attributes_object CHECK (jsonb_typeof(attributes) = 'object'),
    CONSTRAINT ck_semantic_memories_confidence_range CHECK (confidence BETWEEN 0 AND 1),
    CONSTRAINT ck_semantic_memories_source CHECK (
        source IN ('conversation', 'observation', 'inference', 'reflection', 'document', 'tool', 'user')),
    CONSTRAINT ck_semantic_memories_validity CHECK (valid_until IS NULL OR valid_until >= valid_from),
    CONSTRAINT ck_semantic_memories_not_self_superseded CHECK (superseded_by IS NULL OR superseded_by <> id),
    CONSTRAINT ck_semantic_memories_access_count CHECK (access_count >= 0)
);

-- Recent facts of an agent (also serves plain agent_id lookups).
CREATE INDEX IF NOT EXISTS idx_semantic_memories_agent_created
    ON semantic_memories (agent_id, created_at DESC);
-- Exact triple lookups: "what do I know about <subject>", "<subject> <predicate> ?".
CREATE INDEX IF NOT EXISTS idx_semantic_memories_agent_subject_predicate
    ON semantic_memories (agent_id, subject, predicate) WHERE subject IS NOT NULL;
-- No duplicate current triple: a changed fact closes the old row (valid_until) first.
-- The object is hashed because TEXT can exceed the btree entry size.
CREATE UNIQUE INDEX IF NOT EXISTS uq_semantic_memories_current_triple
    ON semantic_memories (agent_id, subject, predicate, md5(object))
    WHERE subject IS NOT NULL AND valid_until IS NULL;
-- Containment queries on attributes (attributes @> '{"topic": "finance"}').
CREATE INDEX IF NOT EXISTS idx_semantic_memories_attributes
    ON semantic_memories USING GIN (attributes jsonb_path_ops);
-- Keyword search next to the vector search (hybrid retrieval).
CREATE INDEX IF NOT EXISTS idx_semantic_memories_content_fts
    ON semantic_memories USING GIN (to_tsvector('english'::regconfig, coalesce(content, '')));
-- Work queue of facts whose vector is missing in Chroma.
CREATE INDEX IF NOT EXISTS idx_semantic_memories_pending_embedding
    ON semantic_memories (created_at) WHERE embedded_at IS NULL;
-- Supports ON DELETE SET NULL of superseded_by.
CREATE INDEX IF NOT EXISTS idx_semantic_memories_superseded_by
    ON semantic_memories (superseded_by) WHERE superseded_by IS NOT NULL;

CREATE OR REPLACE TRIGGER trg_semantic_memories_updated_at
    BEFORE UPDATE ON semantic_memories
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION relational_set_updated_at();

COMMENT ON TABLE semantic_memories IS
    'Facts the agent knows, as triples and/or text; vectors live in the Chroma collection semantic_memories.';
COMMENT ON COLUMN semantic_memories.id IS
    'Also the id (text form) of the vector in the ChromaDB collection semantic_memories.';
COMMENT ON COLUMN semantic_memories.content IS
    'Natural-language statement of the fact: the text that is embedded.';
COMMENT ON COLUMN semantic_memories.valid_until IS
    'NULL while the fact is current; set when it is superseded or stops being true.';
COMMENT ON COLUMN semantic_memories.embedded_at IS
    'When the vector was written to Chroma; NULL means (re-)embedding is pending.';
