"""Registration throughput through the HTTP API on a local stack, and where the time goes.

    .venv/bin/python benchmarks/registration.py [--registrations 40] [--workers 1] [--prefill 200]
                                                [--ipfs embedded|jsipfs] [--database-url URL]

Starts its own anvil on a free loopback port (auto-mining), deploys the contracts with the real deploy script,
and serves the real app with uvicorn on another loopback port (SQLite in a temporary folder, the embedded IPFS
store or a js-ipfs daemon). The registry's matching index is first filled with `--prefill` unrelated images, so
that the near-duplicate search runs against a registry that is not empty. Then `--workers` clients (each its own
wallet) register `--registrations` distinct 640x480 JPEG photos, every one through the whole path, over HTTP:

    sign in (once per wallet) -> upload -> declaration + apply (audit, pin, attest, relay) -> poll until minted

Stages (medians, milliseconds): `upload` (client round trip of POST /v1/originals: checks and the full decode),
`audit`, `index` (adding the image to the matching index), `pin`, `sign`, `relay` (from the service's
Server-Timing header), `apply` (client round trip of the
application, all of those plus HTTP), and `mint` (from the application's answer until GET shows it minted).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' chain driver (tests/backend/chainops.py)
os.environ.setdefault("SOLCX_BINARY_PATH", str(ROOT / "tools" / "solc"))
os.environ["PATH"] = os.pathsep.join([str(ROOT / "node_modules" / ".bin"), str(ROOT / ".venv" / "bin"),
                                      os.environ.get("PATH", "")])

import uvicorn  # noqa: E402
from eth_account import Account  # noqa: E402

from tests.backend.chainops import deploy, start_anvil  # noqa: E402
from tests.backend.conftest import free_port, tool_env, wait_for_rpc  # noqa: E402
from tracemark.api import create_app  # noqa: E402
from tracemark.cli.register import RegistrationClient  # noqa: E402
from tracemark.config import Settings  # noqa: E402
from tracemark.matching import MatchIndex  # noqa: E402
from tracemark.matching.evaluation import jpeg_bytes, synthetic_scene  # noqa: E402

STAGES = ("upload", "audit", "index", "pin", "sign", "relay", "apply", "mint")


def serve(app: Any, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def register_one(api: str, key: bytes, data: bytes, n: int) -> dict[str, float]:
    client = RegistrationClient(api, Account.from_key(key), timeout_s=120)
    try:
        client.sign_in()
        sha = client.upload(data, f"photo-{n}.jpg")
        registration = client.apply(sha, f"Photo {n}", "Bench Photographer", relay=True)
        if registration["status"] not in ("minting", "minted"):
            raise SystemExit(f"registration {n} stopped at {registration['status']}: {registration.get('problem')}"
                             f" {registration['audit']}")
        start = time.perf_counter()
        minted = client.wait_minted(registration["id"], timeout_s=120)
        if minted["status"] != "minted":
            raise SystemExit(f"registration {n} not minted: {minted['status']}")
        t = client.timings
        return {"upload": t["upload"], "audit": t.get("server_audit", 0.0),
                "index": t.get("server_index", 0.0), "pin": t.get("server_pin", 0.0),
                "sign": t.get("server_sign", 0.0), "relay": t.get("server_mint", 0.0), "apply": t["apply"],
                "mint": time.perf_counter() - start}
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registrations", type=int, default=40)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--prefill", type=int, default=200, help="Unrelated images in the matching index first.")
    parser.add_argument("--ipfs", choices=["embedded", "jsipfs"], default="embedded")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    anvil = shutil.which("anvil")
    if anvil is None:
        raise SystemExit("anvil not found: run `npm ci`")
    scratch = Path(tempfile.mkdtemp(prefix="tracemark-bench-registration-"))
    port = free_port()
    proc = start_anvil(anvil, port)
    url = f"http://127.0.0.1:{port}"
    daemon = None
    try:
        wait_for_rpc(url, proc)
        deploy(url, scratch / "deployments", ROOT, tool_env())
        ipfs_url = ""
        if args.ipfs == "jsipfs":
            from tracemark.ipfs.daemon import JsIpfsDaemon

            daemon = JsIpfsDaemon(scratch / "jsipfs", free_port(), free_port(), free_port())
            daemon.start()
            ipfs_url = daemon.api_url
        started = time.perf_counter()
        index = MatchIndex.open(scratch / "data" / "registry-index")
        for i in range(args.prefill):
            index.add(f"prefill-{i}", jpeg_bytes(synthetic_scene(900_000 + i), 88))
        index.close()
        prefill_s = time.perf_counter() - started
        api_port = free_port()
        settings = Settings(rpc_url=url, deployments_dir=scratch / "deployments", data_dir=scratch / "data",
                            public_url=f"http://127.0.0.1:{api_port}", database_url=args.database_url,
                            ipfs_api_url=ipfs_url, rate_limit_per_minute=100_000, rate_limit_auth_per_minute=100_000)
        server = serve(create_app(settings), api_port)
        api = f"http://127.0.0.1:{api_port}"
        photos = [jpeg_bytes(synthetic_scene(10_000 + n), 90) for n in range(args.registrations)]
        keys = [os.urandom(32) for _ in range(args.workers)]
        register_one(api, keys[0], jpeg_bytes(synthetic_scene(5), 90), -1)  # warm-up: opens store, index, service
        started = time.perf_counter()
        with ThreadPoolExecutor(args.workers) as pool:
            results = list(pool.map(lambda n: register_one(api, keys[n % args.workers], photos[n], n),
                                    range(args.registrations)))
        wall = time.perf_counter() - started
        server.should_exit = True
        medians = {stage: round(statistics.median(r[stage] for r in results) * 1000, 1) for stage in STAGES}
        means = {stage: round(statistics.fmean(r[stage] for r in results) * 1000, 1) for stage in STAGES}
        print(json.dumps({
            "registrations": args.registrations, "workers": args.workers, "ipfs": args.ipfs,
            "database": "postgresql" if args.database_url else "sqlite", "prefilled_index": args.prefill,
            "prefill_s": round(prefill_s, 1), "wall_s": round(wall, 2),
            "registrations_per_minute": round(args.registrations / wall * 60, 1),
            "median_ms": medians, "mean_ms": means,
        }, indent=2))
    finally:
        if daemon is not None:
            daemon.stop()
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
