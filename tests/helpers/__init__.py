"""What several test folders share, once: waiting, clocks, stores, bcoin, chains, raw peers, oracles."""

# `tests/` is on `sys.path` (pytest's prepend import mode puts the rootdir conftest's folder there), so
# every test folder imports these as `helpers.<subject>`.
