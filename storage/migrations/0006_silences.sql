-- Silences (spec §7, Alertmanager API v2 shape): a notification whose alert matches every
-- matcher of an active silence is recorded as `silenced` instead of being sent.

CREATE TABLE kuzet.silences (
    id         bigserial PRIMARY KEY,
    -- [{"name": ..., "value": ..., "isRegex": bool, "isEqual": bool}, ...]
    matchers   jsonb NOT NULL CHECK (jsonb_typeof(matchers) = 'array'),
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    created_by text NOT NULL,
    comment    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- set when deleted through the API; the row stays for the record
    expired_at timestamptz,
    CHECK (ends_at > starts_at OR expired_at IS NOT NULL)
);
-- The dispatchers' periodic refresh reads the silences that have not ended yet.
CREATE INDEX silences_current_idx ON kuzet.silences (ends_at) WHERE expired_at IS NULL;
