"""Alerts: tell people outside the inbox that something is happening (signed webhooks today;
chat and paging tools through the same events later)."""
