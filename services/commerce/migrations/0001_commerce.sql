-- The commerce schema: the CDC replay positions, the order -> account map the CDC consumer uses
-- to find whose cache an order event concerns, and the checkout idempotency keys.

-- One row per Pub/Sub topic; written after the events up to replay_id were handled.
CREATE TABLE cdc_replay (
    topic      text PRIMARY KEY,
    replay_id  bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Salesforce orders the portal created or has read, with their account. request_key is the
-- Portal_Request_Key__c of an order created by checkout (NULL for orders only seen).
CREATE TABLE orders (
    order_id      text PRIMARY KEY,
    sf_account_id text NOT NULL,
    request_key   text UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_account_idx ON orders (sf_account_id);
