-- Fulfillment (issue 8): the per-order state machine, the worker's own CDC replay position and
-- the MSISDN allocator. Owned by services/commerce/fulfillment (versions 0101..0199).

-- One row per Salesforce order the worker was asked to fulfil. `state` is the next step to run
-- (or done / failed / skipped); `failed_step` is where a failed order resumes when retried.
CREATE TABLE fulfillments (
    sf_order_id     text PRIMARY KEY,
    state           text NOT NULL DEFAULT 'activating'
                    CHECK (state IN ('activating', 'ordering', 'accepting', 'provisioning',
                                     'awaiting_activation', 'writing_back', 'done', 'failed',
                                     'skipped')),
    failed_step     text,
    attempts        integer NOT NULL DEFAULT 0,      -- attempts of the current step
    last_error      text,
    error_code      text,
    whmcs_client_id bigint,
    whmcs_order_id  bigint,
    service_ids     bigint[] NOT NULL DEFAULT '{}',
    msisdn          text UNIQUE,
    retry_since     timestamptz,                     -- first transient failure of this step
    failed_at       timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    done_at         timestamptz
);
CREATE INDEX fulfillments_open_idx ON fulfillments (state)
    WHERE state NOT IN ('done', 'skipped');

-- The fulfillment consumer's replay position (separate from the cache consumer's cdc_replay).
CREATE TABLE fulfillment_replay (
    consumer   text PRIMARY KEY,
    replay_id  bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- New lines get MSISDNs from a test number range 070-0000-0000 + n (070 is a mobile prefix; the
-- 0700000xxxx block is our reserved test block). Production sets its own range by ALTER SEQUENCE.
CREATE SEQUENCE msisdn_seq MINVALUE 1 MAXVALUE 99999999 NO CYCLE;
