"""The registration path with the metadata pinned to a real js-ipfs daemon (the `make run` set-up) instead of the
embedded store: minted, and the daemon serves the very metadata whose digest the chain stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import skimage.data
from PIL import Image

from tests.backend.conftest import free_port
from tests.backend.integration.indexer.conftest import DeployedState
from tests.backend.integration.registration.chain_stack import jpeg, running_stack
from tests.backend.integration.registration.support import sign_in, wallet
from tracemark.domain.metadata import parse_metadata
from tracemark.ipfs.daemon import JsIpfsDaemon
from tracemark.ipfs.kubo import KuboStore

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::FutureWarning")]


@pytest.fixture
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsIpfsDaemon]:
    d = JsIpfsDaemon(tmp_path_factory.mktemp("ipfs"), free_port(), free_port(), free_port())
    d.start()
    try:
        yield d
    finally:
        d.stop()


def test_register_with_metadata_on_js_ipfs(anvil_bin: str, deployed_state: DeployedState, tmp_path: Path,
                                           daemon: JsIpfsDaemon) -> None:
    alice = wallet(0xA11CE)
    with running_stack(anvil_bin, deployed_state, tmp_path, ipfs_api_url=daemon.api_url) as stack:
        body = stack.register(alice, jpeg(Image.fromarray(skimage.data.astronaut())), "Astronaut", "Alice",
                              relay=True)
        assert body["status"] == "minting", body
        minted = stack.client.get(f"/v1/registrations/{body['id']}", headers=sign_in(stack.client, alice)).json()
        assert minted["status"] == "minted"
        store = KuboStore(daemon.api_url)
        assert store.has(minted["metadata_cid"]) and store.has(minted["preview_cid"])
        metadata = parse_metadata(store.get(minted["metadata_cid"]))
        assert metadata.sha256 == body["original"] and metadata.preview_cid == minted["preview_cid"]
        token = int(body["original"], 16)
        on_chain = stack.certificate_contract().functions.metadataDigest(token).call()
        assert "0x" + on_chain.hex() == minted["metadata_digest"]
        assert not (tmp_path / "ipfs").exists()  # nothing went to the embedded store
