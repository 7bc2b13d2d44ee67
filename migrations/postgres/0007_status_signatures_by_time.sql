-- A status report's signature matters only while its timestamp could pass the freshness window again (a replay);
-- retention forgets signatures an hour after they arrived, oldest first, through this index.
CREATE INDEX status_signatures_by_time ON status_signatures (received_at_ms);
