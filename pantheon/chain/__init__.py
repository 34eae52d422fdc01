"""The chain: proof of work (`pow`), the header tree (`headers`), context-free (`validation`) and
coin-dependent (`contextual`) rules, the UTXO set (`utxo`, `coins`) and the chain state that
connects blocks to it (`chainstate`), the script vocabulary (`script`: opcodes, limits, output
shapes), script verification with Core's interpreter (`scripts`), standardness (`policy`), the
mempool, the regtest miner, address codecs, and the optional indexes following the chain
(`blockindexes`: -blockfilterindex's `filterindex`, -txindex's `txindex`, -txospenderindex's
`txospenderindex`). Nothing here imports `construct` or
`pantheon.spec`: the chain reads the value types in `pantheon.primitives` and the codecs in
`pantheon.wire`.
"""
