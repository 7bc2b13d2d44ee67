-- A `groups` epoch whose batches were refilled names a zipcode once per batch that holds it, so an epoch's
-- zipcode rows are keyed by their position. SQLite cannot change a primary key in place: the table is rebuilt.
CREATE TABLE epoch_zipcodes_by_position (
    epoch_id TEXT NOT NULL REFERENCES epochs (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    zipcode TEXT NOT NULL,
    expected_listings BIGINT NOT NULL,
    state TEXT NOT NULL,
    city TEXT NOT NULL,
    county TEXT,
    market_tier TEXT NOT NULL,
    weight DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (epoch_id, position)
);
INSERT INTO epoch_zipcodes_by_position
    (epoch_id, position, zipcode, expected_listings, state, city, county, market_tier, weight)
    SELECT epoch_id, position, zipcode, expected_listings, state, city, county, market_tier, weight
    FROM epoch_zipcodes;
DROP TABLE epoch_zipcodes;
ALTER TABLE epoch_zipcodes_by_position RENAME TO epoch_zipcodes;
CREATE INDEX epoch_zipcodes_by_zipcode ON epoch_zipcodes (zipcode, epoch_id);
