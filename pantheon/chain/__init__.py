"""The chain: proof of work (`pow`), the header tree (`headers`), context-free block validation
(`validation`); later the UTXO set, the mempool and the regtest miner (issue 6). Nothing here imports
`construct` or `pantheon.spec`: the chain reads the value types in `pantheon.primitives` and the
codecs in `pantheon.wire`.
"""
