-- A `groups` epoch whose batches were refilled names a zipcode once per batch that holds it, so an epoch's
-- zipcode rows are keyed by their position.
ALTER TABLE epoch_zipcodes DROP CONSTRAINT epoch_zipcodes_pkey;
ALTER TABLE epoch_zipcodes ADD PRIMARY KEY (epoch_id, position);
