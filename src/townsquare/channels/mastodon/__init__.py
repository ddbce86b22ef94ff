"""Mastodon (and other servers speaking the Mastodon client API): mentions and private mentions
in over the streaming API with a REST catch-up, public and direct replies out."""
