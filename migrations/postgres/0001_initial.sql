-- Settings the service generates once and every replica must share (the server secret).
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

-- The zipcode universe. Flags are INTEGER 0/1, times BIGINT Unix milliseconds (portable through sqlx's Any).
CREATE TABLE zipcodes (
    zipcode TEXT PRIMARY KEY NOT NULL CHECK (char_length(zipcode) = 5),
    state TEXT NOT NULL,
    city TEXT NOT NULL,
    county TEXT,
    expected_listings BIGINT NOT NULL CHECK (expected_listings >= 0),
    market_tier TEXT NOT NULL,
    weight DOUBLE PRECISION NOT NULL DEFAULT 1.0 CHECK (weight >= 0),
    active INTEGER NOT NULL DEFAULT 1,
    source TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX zipcodes_state ON zipcodes (state);

-- One row per epoch, written once. The assignment is copied into epoch_zipcodes so later imports never
-- change what was served.
CREATE TABLE epochs (
    id TEXT PRIMARY KEY NOT NULL,
    start_unix BIGINT NOT NULL UNIQUE,
    end_unix BIGINT NOT NULL,
    nonce TEXT NOT NULL,
    selection_seed TEXT NOT NULL,
    target_listings BIGINT NOT NULL,
    tolerance_percent BIGINT NOT NULL,
    algorithm_version TEXT NOT NULL,
    total_expected BIGINT NOT NULL,
    zipcode_count BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE epoch_zipcodes (
    epoch_id TEXT NOT NULL REFERENCES epochs (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    zipcode TEXT NOT NULL,
    expected_listings BIGINT NOT NULL,
    state TEXT NOT NULL,
    city TEXT NOT NULL,
    county TEXT,
    market_tier TEXT NOT NULL,
    weight DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (epoch_id, zipcode)
);
CREATE INDEX epoch_zipcodes_by_zipcode ON epoch_zipcodes (zipcode, epoch_id);

-- Every accepted status report, as received.
CREATE TABLE status_events (
    id BIGSERIAL PRIMARY KEY,
    epoch_id TEXT NOT NULL REFERENCES epochs (id) ON DELETE CASCADE,
    hotkey TEXT NOT NULL,
    status TEXT NOT NULL,
    s3_upload_complete INTEGER NOT NULL,
    listings_scraped BIGINT,
    zipcodes_completed TEXT NOT NULL,
    s3_upload_at_ms BIGINT,
    received_at_ms BIGINT NOT NULL
);
CREATE INDEX status_events_by_epoch ON status_events (epoch_id, hotkey, id);

-- The latest report per miner and epoch, kept in step with status_events in the same transaction.
CREATE TABLE miner_epoch_status (
    epoch_id TEXT NOT NULL REFERENCES epochs (id) ON DELETE CASCADE,
    hotkey TEXT NOT NULL,
    status TEXT NOT NULL,
    s3_upload_complete INTEGER NOT NULL,
    listings_scraped BIGINT,
    zipcodes_completed TEXT NOT NULL,
    s3_upload_at_ms BIGINT,
    report_count BIGINT NOT NULL,
    first_reported_at_ms BIGINT NOT NULL,
    last_reported_at_ms BIGINT NOT NULL,
    PRIMARY KEY (epoch_id, hotkey)
);
