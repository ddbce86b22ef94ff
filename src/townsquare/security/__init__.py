"""Passwords, tokens and request signatures."""
