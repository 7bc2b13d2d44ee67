-- Every S3 access grant handed out: who, which prefix, until when. Never signatures or secrets.
CREATE TABLE s3_grants (
    id BIGSERIAL PRIMARY KEY,
    hotkey TEXT NOT NULL,
    kind TEXT NOT NULL,
    prefix TEXT NOT NULL,
    granted_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX s3_grants_by_hotkey ON s3_grants (hotkey, granted_at_ms);
CREATE INDEX s3_grants_by_time ON s3_grants (granted_at_ms);
