-- The signature each status report arrived under, and a digest of what it said: one signature carries one
-- report. The same report again is answered as before; another report under a used signature is refused.
CREATE TABLE status_signatures (
    hotkey TEXT NOT NULL,
    signature TEXT NOT NULL,
    epoch_id TEXT NOT NULL REFERENCES epochs (id) ON DELETE CASCADE,
    body_digest TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    PRIMARY KEY (hotkey, signature)
);
CREATE INDEX status_signatures_by_epoch ON status_signatures (epoch_id);
