-- Beacon-seeded epochs. An epoch's inputs (everything its selection reads) are published before the beacon round
-- that seeds it exists and never change afterwards: the trigger refuses any update, so not even a hand-written
-- statement can rewrite what validators may already hold. Inputs exist before their epoch, so no foreign key;
-- retention deletes them with their epoch. The document is the canonical JSON, gzip-compressed.
CREATE TABLE epoch_inputs (
    epoch_id TEXT PRIMARY KEY NOT NULL,
    start_unix BIGINT NOT NULL UNIQUE,
    inputs_hash TEXT NOT NULL,
    candidate_count BIGINT NOT NULL,
    document BLOB NOT NULL,
    published_at_ms BIGINT NOT NULL
);

CREATE TRIGGER epoch_inputs_never_change BEFORE UPDATE ON epoch_inputs
BEGIN
    SELECT RAISE(ABORT, 'published epoch inputs never change');
END;

-- How each epoch was seeded (JSON: beacon round, pulse, randomness, inputs hash); NULL for epochs made before.
ALTER TABLE epochs ADD COLUMN proof TEXT;
