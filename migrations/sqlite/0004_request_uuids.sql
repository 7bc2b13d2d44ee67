-- The uuids of Epistula-signed requests already accepted, so that each is accepted once across every replica.
-- A row outlives its use after the Epistula timestamp window (its request would be refused as stale anyway);
-- such rows are deleted every minute, so the table holds a few seconds of signed traffic.
CREATE TABLE request_uuids (
    uuid TEXT PRIMARY KEY,
    hotkey TEXT NOT NULL,
    timestamp_ms BIGINT NOT NULL
);
CREATE INDEX request_uuids_by_time ON request_uuids (timestamp_ms);
