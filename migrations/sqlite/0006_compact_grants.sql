-- Grant records by reference. The hotkeys and key prefixes of grants repeat (a validator's grant to read a
-- miner's epoch folder names the same prefix as the 63 other validators'), so each is stored once, with the time
-- it was last granted (pruning forgets those last granted before the cutoff, which no record names any more),
-- and a record holds their ids, a kind code and its two times.
CREATE TABLE grant_hotkeys (
    id INTEGER PRIMARY KEY,
    hotkey TEXT NOT NULL UNIQUE,
    last_granted_at_ms BIGINT NOT NULL
);
CREATE INDEX grant_hotkeys_by_time ON grant_hotkeys (last_granted_at_ms);
CREATE TABLE grant_prefixes (
    id INTEGER PRIMARY KEY,
    prefix TEXT NOT NULL UNIQUE,
    last_granted_at_ms BIGINT NOT NULL
);
CREATE INDEX grant_prefixes_by_time ON grant_prefixes (last_granted_at_ms);
-- kind: 1 miner_folder, 2 miner_read, 3 validator_read, 4 validator_upload (any other kind fails the migration).
CREATE TABLE access_grants (
    id INTEGER PRIMARY KEY,
    hotkey_id BIGINT NOT NULL REFERENCES grant_hotkeys (id),
    kind INTEGER NOT NULL,
    prefix_id BIGINT NOT NULL REFERENCES grant_prefixes (id),
    granted_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

INSERT INTO grant_hotkeys (hotkey, last_granted_at_ms)
    SELECT hotkey, max(granted_at_ms) FROM s3_grants GROUP BY hotkey;
INSERT INTO grant_prefixes (prefix, last_granted_at_ms)
    SELECT prefix, max(granted_at_ms) FROM s3_grants GROUP BY prefix;
INSERT INTO access_grants (hotkey_id, kind, prefix_id, granted_at_ms, expires_at_ms)
    SELECT h.id,
           CASE g.kind WHEN 'miner_folder' THEN 1 WHEN 'miner_read' THEN 2 WHEN 'validator_read' THEN 3 WHEN 'validator_upload' THEN 4 END,
           p.id, g.granted_at_ms, g.expires_at_ms
    FROM s3_grants g
    JOIN grant_hotkeys h ON h.hotkey = g.hotkey
    JOIN grant_prefixes p ON p.prefix = g.prefix
    ORDER BY g.id;
DROP TABLE s3_grants;
CREATE INDEX access_grants_by_hotkey ON access_grants (hotkey_id, granted_at_ms);
CREATE INDEX access_grants_by_time ON access_grants (granted_at_ms);
-- Deleting a prefix looks for records still naming it (the foreign key); without this, through every record.
CREATE INDEX access_grants_by_prefix ON access_grants (prefix_id);
