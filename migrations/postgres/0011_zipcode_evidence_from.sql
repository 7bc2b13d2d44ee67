-- Recalibration moves a zipcode's expected listings from validators' verdicts, but an operator's import sets them
-- outright and wins: evidence about the zipcode counts only from epochs starting at or after its latest import
-- (Unix milliseconds; NULL for zipcodes never imported, whose evidence always counts).
ALTER TABLE zipcodes ADD COLUMN evidence_from_ms BIGINT;
