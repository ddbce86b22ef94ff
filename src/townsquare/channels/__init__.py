"""Connectors, one package per network, registered through entry points."""
