-- The identity schema: portal users, the user <-> WHMCS client <-> Salesforce account mapping,
-- refresh tokens, the Salesforce outbox and the throttling counters.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    first_name    text NOT NULL,
    last_name     text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- E-mail is unique case-insensitively (no citext: it needs an extension and superuser).
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE account_links (
    user_id         uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    whmcs_client_id bigint NOT NULL UNIQUE CHECK (whmcs_client_id > 0),
    sf_account_id   text NOT NULL UNIQUE CHECK (sf_account_id <> ''),
    customer_number text NOT NULL CHECK (customer_number <> ''),
    source          text NOT NULL CHECK (source IN ('New Signup', 'WHMCS Link')),
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,                -- SHA-256 of the opaque token
    family_id   uuid NOT NULL,                    -- one login = one family
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    parent_hash bytea REFERENCES refresh_tokens (token_hash) ON DELETE SET NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,                      -- replaced by a child: presenting it again is reuse
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- Transactional outbox for Salesforce Account updates (written with the user and the mapping).
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL,
    target_id       text NOT NULL,
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    delivered_at    timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- Fixed-window counters for throttling (login failures per account / per address, lookups).
CREATE TABLE throttle (
    key          text PRIMARY KEY,
    hits         integer NOT NULL,
    window_start timestamptz NOT NULL
);
