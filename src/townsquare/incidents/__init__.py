"""Incidents: streaming detection of report bursts and their grouping into incidents.

The detector lives in :mod:`townsquare.incidents.detector`; ``replay`` and ``commands`` expose it
as ``townsquare incidents replay``.
"""
