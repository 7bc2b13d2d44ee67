-- Grouped epochs (the `groups` assignment mode): the groups, their members and where each group's batch lies
-- among the epoch's zipcode rows (JSON); NULL for `shared` epochs and for epochs made before.
ALTER TABLE epochs ADD COLUMN groups TEXT;
