"""Townsquare: open-source social customer service."""

__version__ = "0.1.0"
