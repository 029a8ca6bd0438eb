-- Fulfillment: every commerce replica works orders. A worker claims a runnable row (not done,
-- failed or skipped, and unclaimed or its lease expired) with `FOR UPDATE SKIP LOCKED`, sets
-- `claimed_by` (the worker's id) and `lease_until`, renews the lease while it works and clears
-- both when it stops; a dead worker's rows become claimable once their lease has expired.
ALTER TABLE fulfillments ADD COLUMN claimed_by text, ADD COLUMN lease_until timestamptz;
-- The claim's scan: open rows, oldest first.
CREATE INDEX fulfillments_runnable_idx ON fulfillments (created_at)
    WHERE state NOT IN ('done', 'failed', 'skipped');
