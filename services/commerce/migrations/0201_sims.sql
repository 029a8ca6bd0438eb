-- Scheduled SIM cancellations the portal asked Freebit for: the status watcher polls the ones not
-- yet in effect and tells the customer's live updates when Freebit has cancelled the line.
CREATE TABLE commerce.sim_cancellations (
    msisdn        text        PRIMARY KEY,
    user_id       text        NOT NULL,
    sf_account_id text        NOT NULL,
    run_date      date        NOT NULL,
    case_id       text        NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    effective_at  timestamptz
);
CREATE INDEX sim_cancellations_open ON commerce.sim_cancellations (requested_at)
    WHERE effective_at IS NULL;
