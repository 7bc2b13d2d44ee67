-- A miner's reports repeat the zipcodes it completed before: each event now stores only what follows the
-- leading entries it shares with the miner's previous report in the epoch (`zipcodes_carried` of them), and
-- reads rebuild the whole list. Events stored before hold their whole list and carry 0.
ALTER TABLE status_events ADD COLUMN zipcodes_carried BIGINT NOT NULL DEFAULT 0;
