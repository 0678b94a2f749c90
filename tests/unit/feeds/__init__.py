"""Unit tests of the feed decoders (collector/feeds)."""
