"""Operator tools built on the wire core; `pantheon-decode` (tools.decode) reads captured traffic."""
