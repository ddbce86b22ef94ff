"""Bluesky (AT Protocol): mentions, replies and quotes in; threaded replies and DMs out."""
