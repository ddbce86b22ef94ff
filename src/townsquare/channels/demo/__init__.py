"""The demo network: a small simulated social network, its connector, and simulated customers."""
