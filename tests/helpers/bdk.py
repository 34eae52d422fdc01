"""BDK (`bdkpython`, pinned in the test extra), a real BIP157 light wallet: its light client is
Kyoto. `require_bdk()` skips a test where the package is missing (fails under CI=true, which must
install it); `LightWallet` is a BIP84 regtest wallet whose only peer is one node."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from helpers.outside import missing

#: The mnemonic's entropy: a fixed wallet, so failures reproduce.
ENTROPY = bytes(range(16))
#: How long one light-client update may take (Kyoto syncs headers, filter headers, filters, blocks).
UPDATE_TIMEOUT = 90.0


def require_bdk() -> ModuleType:
    """The bdkpython module, or skip (fail under CI=true) with the reason."""
    try:
        import bdkpython
    except ImportError:
        missing("bdkpython is not installed (pip install -e '.[test]' pins bdkpython==3.1.1)")
    return bdkpython


class LightWallet:
    """A BIP84 wallet on regtest and its Kyoto light client, connected only to 127.0.0.1:`port`
    (over BIP324 when `v2_transport`: Kyoto uses rust-bitcoin's bip324 crate). Every method blocks: call them from a native thread (`helpers.waiting.in_thread`) while the
    node's greenlets run."""

    def __init__(self, bdk: ModuleType, port: int, data_dir: Path, v2_transport: bool = False) -> None:
        self.bdk = bdk
        key = bdk.DescriptorSecretKey(bdk.NetworkKind.TEST, bdk.Mnemonic.from_entropy(ENTROPY), None)
        self.wallet = bdk.Wallet(bdk.Descriptor.new_bip84(key, bdk.KeychainKind.EXTERNAL, bdk.NetworkKind.TEST),
                                 bdk.Descriptor.new_bip84(key, bdk.KeychainKind.INTERNAL, bdk.NetworkKind.TEST),
                                 bdk.Network.REGTEST, bdk.Persister.new_in_memory())
        self.address = str(self.wallet.reveal_next_address(bdk.KeychainKind.EXTERNAL).address)
        peer = bdk.Peer(address=bdk.IpAddress.from_ipv4(127, 0, 0, 1), port=port, v2_transport=v2_transport)
        self._data_dir = data_dir
        self._peer = peer
        self.client: Any = None
        self.warnings: list[str] = []

    def start(self) -> None:
        bdk = self.bdk
        parts = (bdk.CbfBuilder().peers([self._peer]).connections(1).only_configured_peers()
                 .scan_type(bdk.ScanType.SYNC()).data_dir(str(self._data_dir)).build(self.wallet))
        self.client = parts.client
        threading.Thread(target=parts.node.run, name="kyoto", daemon=True).start()

    def update(self) -> None:
        """Wait for the light client's next update (it syncs to its peer's tip) and apply it."""
        self.wallet.apply_update(asyncio.run(self._with_warnings(self.client.update())))

    def pay(self, address: str, sats: int, sats_per_vb: int = 2) -> str:
        """Sign a payment and broadcast it through the light client; its txid (display hex)."""
        bdk = self.bdk
        psbt = (bdk.TxBuilder().add_recipient(bdk.Address(address, bdk.Network.REGTEST).script_pubkey(),
                                              bdk.Amount.from_sat(sats))
                .fee_rate(bdk.FeeRate.from_sat_per_vb(sats_per_vb)).finish(self.wallet))
        assert self.wallet.sign(psbt), "the wallet did not finalise its own transaction"
        tx = psbt.extract_tx()
        asyncio.run(self._with_warnings(self.client.broadcast(tx)))
        return str(tx.compute_txid())

    def confirmation_height(self, txid: str) -> int | None:
        for details in self.wallet.transactions():
            if str(details.transaction.compute_txid()) == txid:
                position = details.chain_position
                return position.confirmation_block_time.block_id.height if hasattr(
                    position, "confirmation_block_time") else None
        raise KeyError(txid)

    def stop(self) -> None:
        if self.client is not None:
            self.client.shutdown()

    async def _with_warnings(self, call: Any) -> Any:
        """`call` within UPDATE_TIMEOUT; on a timeout the client's warnings say why."""
        watcher = asyncio.ensure_future(self._watch())
        try:
            return await asyncio.wait_for(call, UPDATE_TIMEOUT)
        except asyncio.TimeoutError:
            raise TimeoutError(f"the light client gave no answer in {UPDATE_TIMEOUT} s; warnings: {self.warnings}") from None
        finally:
            watcher.cancel()

    async def _watch(self) -> None:
        while True:
            self.warnings.append(str(await self.client.next_warning()))
