-- Alerts and the durable notification outbox (spec §5, §6).

CREATE TABLE kuzet.alerts (
    id               bigserial PRIMARY KEY,
    key              text NOT NULL,
    rule             text NOT NULL,
    kind             text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state            text NOT NULL CHECK (state IN ('firing', 'resolved')),
    station_id       text,
    area             text NOT NULL DEFAULT '',
    value            double precision,
    threshold        double precision,
    unit             text NOT NULL DEFAULT '',
    -- event time (reading timestamps) of the firing and resolving readings
    started_at       timestamptz NOT NULL,
    resolved_at      timestamptz,
    acked_at         timestamptz,
    acked_by         text,
    details          jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- wall clock: when the transition was recorded and when it was last notified (repeats)
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    last_notified_at timestamptz NOT NULL DEFAULT now()
);
-- At most one firing alert per key: with several replicas, the first INSERT wins and only
-- its transaction writes the outbox rows, so a transition is notified exactly once.
CREATE UNIQUE INDEX alerts_firing_key_idx ON kuzet.alerts (key) WHERE state = 'firing';
CREATE INDEX alerts_started_at_idx ON kuzet.alerts (started_at DESC);

CREATE TABLE kuzet.notifications (
    id                  bigserial PRIMARY KEY,
    alert_id            bigint NOT NULL REFERENCES kuzet.alerts (id) ON DELETE CASCADE,
    channel             text NOT NULL,
    -- the receiver within a channel (e.g. one of several webhook URLs)
    target              text NOT NULL DEFAULT '',
    event               text NOT NULL CHECK (event IN ('firing', 'resolved', 'repeat', 'escalated')),
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'sent', 'failed', 'dead', 'silenced')),
    attempts            integer NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL DEFAULT now(),
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    -- a dispatcher holds a row while delivering it; an expired lease means it died mid-way
    lease_until         timestamptz,
    sent_at             timestamptz,
    last_error          text,
    -- the message as rendered at the transition (what is delivered, even after a restart)
    payload             jsonb NOT NULL,
    -- receive time of the reading behind the transition (notification latency metric)
    trigger_received_at timestamptz
);
CREATE INDEX notifications_due_idx ON kuzet.notifications (next_attempt_at)
    WHERE status IN ('pending', 'failed');
CREATE INDEX notifications_alert_idx ON kuzet.notifications (alert_id);
