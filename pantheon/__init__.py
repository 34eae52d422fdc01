"""Pantheon: a Bitcoin-wire-compatible peer-to-peer node."""

__version__ = "0.1.0"
