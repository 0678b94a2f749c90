"""Private services for `kuzet demo` and the tests: PostgreSQL from a wheel, an MQTT broker."""
