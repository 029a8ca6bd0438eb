-- One normalised form of every e-mail (NFKC + case fold, computed by services/common/emails.py
-- and nowhere else), the one-time codes sent by e-mail, and nothing else.

-- Filled by the service for every user (insert, and at start for rows written before this column).
ALTER TABLE users ADD COLUMN email_key text;
CREATE UNIQUE INDEX users_email_key_key ON users (email_key) WHERE email_key IS NOT NULL;

-- One live code per (purpose, subject): sign-up (the customer number), password reset (the user).
-- Only a hash of the code is kept; attempts count every check, right or wrong.
CREATE TABLE codes (
    purpose    text NOT NULL CHECK (purpose IN ('signup', 'reset')),
    subject    text NOT NULL,
    code_hash  bytea NOT NULL,
    email_key  text NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    sent_at    timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (purpose, subject)
);
