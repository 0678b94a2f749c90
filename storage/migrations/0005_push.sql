-- Web Push subscriptions (RFC 8030/8291): one row per browser or app that subscribed.

CREATE TABLE kuzet.push_subscriptions (
    -- the push service URL the subscription was given; unique per browser profile and app
    endpoint   text PRIMARY KEY CHECK (length(endpoint) <= 2048),
    -- the user agent's P-256 public key and auth secret, base64url without padding
    p256dh     text NOT NULL,
    auth       text NOT NULL,
    -- language of the notifications sent to it
    lang       text NOT NULL DEFAULT 'ru' CHECK (lang IN ('kk', 'ru', 'en')),
    created_at timestamptz NOT NULL DEFAULT now()
);
