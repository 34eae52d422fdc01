"""The peer-to-peer network layer: peers, their manager, addresses and discovery."""
