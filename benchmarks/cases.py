"""Cases at scale: the deadline scheduler over many open cases, and the clearing portal under concurrent clients.

    .venv/bin/python benchmarks/cases.py [--cases 100000] [--due 5000] [--clients 50] [--requests 5000]
                                         [--database-url URL]

Starts its own anvil on a free loopback port, deploys the contracts with the real deploy script, registers a few
certificates (with the holder's licence offers), indexes the chain, and starts a real SMTP server (aiosmtpd) on
loopback. One case is taken through the service the way a holder and a caseworker take it (sighting -> finding ->
licence check -> claim -> approval -> the scheduler's offer letter); it is then copied row for row, each copy with
its own sighting and with its history moved back in time, until `--cases` cases are open in the offer stage.
`--due` of them have waited past the reminder deadline at the moment measured; the others have not.

Scheduler figures:
- `idle_run_s`: one scheduler run over all the open cases when none is due (what every run costs).
- `due_run_s` and `transitions_per_s`: one run that moves every due case to the reminder stage; each move runs the
  licence check (indexed licences, whitelist, page and image data), composes the reminder in the site's language,
  keeps it with the case and sends it over SMTP. The SMTP server's count is checked, and a second run must move
  nothing (each action once).

Portal figures: the real app served by uvicorn on loopback, `--clients` client threads (one keep-alive connection
each) fetching case pages of 1,000 random cases (`GET /c/<token>`), `--requests` in all, after a warm-up; latency
p50/p99 in milliseconds and the requests served per second (each client sends its next request as soon as an answer
arrives, so at saturation the latency is about the number of clients times the time per page). The same load on
`GET /verify` (a fixed HTML form through the same app, middleware and server) gives the floor of the stack
(`portal_over_floor` is the ratio of the p50s). The portal's per-client rate limit is raised for the run, since
every client comes from 127.0.0.1. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' chain driver (tests/backend/chainops.py)
os.environ.setdefault("SOLCX_BINARY_PATH", str(ROOT / "tools" / "solc"))
os.environ["PATH"] = os.pathsep.join([str(ROOT / "node_modules" / ".bin"), str(ROOT / ".venv" / "bin"),
                                      os.environ.get("PATH", "")])

import uvicorn  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from tests.backend.chainops import CPY, DevChain, deploy, start_anvil  # noqa: E402
from tests.backend.conftest import free_port, tool_env, wait_for_rpc  # noqa: E402
from tests.backend.integration.indexer.support import new_indexer  # noqa: E402
from tracemark.api import create_app  # noqa: E402
from tracemark.cases.clock import ManualClock  # noqa: E402
from tracemark.cases.deadlines import DeadlinePolicy  # noqa: E402
from tracemark.cases.workflow import CaseState  # noqa: E402
from tracemark.chain.deployments import load_deployment  # noqa: E402
from tracemark.config import Settings  # noqa: E402
from tracemark.mail import SmtpMailer  # noqa: E402
from tracemark.services.cases import CasesService, ClaimedUse, Verdict  # noqa: E402
from tracemark.store import Database  # noqa: E402
from tracemark.store.base import table_of  # noqa: E402
from tracemark.store.case_models import CaseEventRecord, CaseRecord  # noqa: E402
from tracemark.store.sighting_models import SightingRecord  # noqa: E402
from tracemark.store.sighting_repository import record_sighting, save_site  # noqa: E402

DAY = timedelta(days=1)
POLICY = DeadlinePolicy(reminder_after=14 * DAY, damages_after=10 * DAY, lawyer_after=7 * DAY, court_after=21 * DAY)
CASEWORKER = "0x" + "c0" * 20
COPY_BATCH = 5_000


class CountingHandler:
    """An SMTP sink that counts the messages it accepts."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self,  # noqa: N802 - the name aiosmtpd calls
                           server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.count += 1
        return "250 OK"


def serve(app: Any, port: int) -> uvicorn.Server:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def template_case(chain: DevChain, database: Database, service: CasesService, clock: ManualClock,
                  holder: str, token: int) -> tuple[str, int]:
    """One case taken through the service into the offer stage; returns (case id, sighting id)."""
    seen = clock.now() - 40 * DAY
    with database.write() as session:
        site = save_site(session, "shop.example.de", checked_at=seen, country_code="DE", country_reason="address",
                         country_basis="address", operator={"name": "Muster GmbH", "email": "info@shop.example.de"})
        for day in (0, 30):
            row = record_sighting(session, site=site, certificate_id=f"{token:064x}",
                                  page_url="https://shop.example.de/p/0", image_url="https://shop.example.de/i/0.jpg",
                                  score=0.93, match_report={"score": 0.93, "coverage": 0.8}, seen_at=seen + day * DAY)
        sighting = row.id
    case = service.review_finding(sighting, holder, Verdict.ILLEGAL, "no licence given")
    service.check_licence(case.case_id, holder)
    service.submit_claim(case.case_id, holder, ClaimedUse())
    service.decide(case.case_id, CASEWORKER, True, "match, evidence and standing checked")
    report = service.scheduler().run_once()
    if [d.to_state for d in report.applied] != [CaseState.OFFER]:
        raise SystemExit(f"the template case did not reach the offer stage: {report}")
    return case.case_id, sighting


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs}


def copy_cases(database: Database, case_id: str, sighting_id: int, count: int, due: int, now: datetime,
               rng: random.Random) -> None:
    """`count` copies of the template case, each with its own sighting; the offer letter of the first `due` went out
    between 14 and 15 days before `now`, that of the others between 1 and 13 days before."""
    with database.read() as session:
        case_row = _columns(session.get(CaseRecord, case_id))
        sighting_row = _columns(session.get(SightingRecord, sighting_id))
        events = [_columns(e) for e in session.scalars(select(CaseEventRecord).where(
            CaseEventRecord.case_id == case_id).order_by(CaseEventRecord.seq))]
        next_sighting = (session.scalar(select(func.max(SightingRecord.id))) or 0) + 1
    offer_at = events[-1]["at"]
    for start in range(0, count, COPY_BATCH):
        sightings, cases, case_events = [], [], []
        for n in range(start, min(count, start + COPY_BATCH)):
            waited = timedelta(seconds=rng.uniform(14 * 86_400 + 60, 15 * 86_400) if n < due
                               else rng.uniform(86_400, 13 * 86_400))
            shift = (now - waited) - offer_at
            page = f"https://shop.example.de/p/{n + 1}"
            image = f"https://shop.example.de/i/{n + 1}.jpg"
            sid = next_sighting + n
            sightings.append(sighting_row | {
                "id": sid, "page_url": page, "image_url": image,
                "page_url_sha256": hashlib.sha256(page.encode()).hexdigest(),
                "image_url_sha256": hashlib.sha256(image.encode()).hexdigest(),
                "first_seen": sighting_row["first_seen"] + shift, "last_seen": sighting_row["last_seen"] + shift})
            new_id = f"{case_id[:-8]}{n:08x}"
            cases.append(case_row | {"id": new_id, "sighting_id": sid, "page_url": page, "image_url": image,
                                     "created_at": case_row["created_at"] + shift,
                                     "stage_started_at": case_row["stage_started_at"] + shift,
                                     "updated_at": case_row["updated_at"] + shift})
            case_events += [e | {"id": None, "case_id": new_id, "at": e["at"] + shift} for e in events]
        for e in case_events:
            del e["id"]
        with database.write() as session:
            session.execute(table_of(SightingRecord).insert(), sightings)
            session.execute(table_of(CaseRecord).insert(), cases)
            session.execute(table_of(CaseEventRecord).insert(), case_events)
        print(f"  copied {min(count, start + COPY_BATCH):,} of {count:,} cases", file=sys.stderr)


def load(port: int, paths: list[str], clients: int, requests: int) -> tuple[list[float], float]:
    """`requests` GETs of random `paths` from `clients` threads, one keep-alive connection each: the latencies and
    the wall time, in seconds."""
    per_client = requests // clients
    latencies: list[float] = []
    lock = threading.Lock()
    failures: list[str] = []

    def client(seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for _ in range(per_client):
            path = rng.choice(paths)
            started = time.perf_counter()
            connection.request("GET", path)
            answer = connection.getresponse()
            answer.read()
            mine.append(time.perf_counter() - started)
            if answer.status != 200:
                failures.append(f"{path}: {answer.status}")
        connection.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    wall = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[:3]}")
    return latencies, wall


def figures(measured: tuple[list[float], float]) -> dict[str, float]:
    latencies, wall = measured
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50_ms": round(cuts[49] * 1000, 1), "p99_ms": round(cuts[98] * 1000, 1),
            "requests_per_s": round(len(latencies) / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000, help="Open cases in the store.")
    parser.add_argument("--due", type=int, default=5_000, help="How many of them are due at the measured run.")
    parser.add_argument("--clients", type=int, default=50, help="Concurrent portal clients.")
    parser.add_argument("--requests", type=int, default=5_000, help="Portal requests in all.")
    parser.add_argument("--database-url", default="", help="Default: SQLite in a temporary folder.")
    args = parser.parse_args()
    if not 0 < args.due <= args.cases:
        raise SystemExit("--due must lie between 1 and --cases")

    anvil = shutil.which("anvil")
    if anvil is None:
        raise SystemExit("anvil not found: run `npm ci`")
    scratch = Path(tempfile.mkdtemp(prefix="tracemark-bench-cases-"))
    port = free_port()
    proc = start_anvil(anvil, port, "--base-fee", "0")
    url = f"http://127.0.0.1:{port}"
    handler = CountingHandler()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        wait_for_rpc(url, proc)
        deployments = scratch / "deployments"
        deploy(url, deployments, ROOT, tool_env())
        chain = DevChain(url, load_deployment(deployments, 31337))
        holder = chain.users[0]
        token = chain.register(holder)
        chain.flush()
        chain.set_offer(token, holder, kind=1, price=40 * CPY, duration=365 * 86_400)
        chain.flush()
        chain.mine(4)
        database = Database(args.database_url or f"sqlite:///{scratch / 'tracemark.db'}")
        database.migrate()
        new_indexer(database, chain, confirmations=2).catch_up()

        now = datetime.now(UTC).replace(microsecond=0)
        clock = ManualClock(now)
        mailer = SmtpMailer("127.0.0.1", smtp.port, sender="Tracemark <cases@tracemark.example>", security="none",
                            timeout_s=30)
        api_port = free_port()

        def service() -> CasesService:
            return CasesService(database, 31337, clock, policy=POLICY, transport=mailer,
                                portal_url=f"http://127.0.0.1:{api_port}")

        case_id, sighting_id = template_case(chain, database, service(), clock, holder, token)
        started = time.perf_counter()
        copy_cases(database, case_id, sighting_id, args.cases - 1, args.due, now + DAY, random.Random(5))
        seed_s = time.perf_counter() - started

        before = handler.count
        started = time.perf_counter()
        idle = service().scheduler().run_once()
        idle_s = time.perf_counter() - started
        if idle.applied or idle.failed:
            raise SystemExit(f"the idle run moved cases: {len(idle.applied)} applied, {idle.failed[:3]}")

        clock.set(now + DAY)
        started = time.perf_counter()
        moved = service().scheduler().run_once()
        due_s = time.perf_counter() - started
        letters = handler.count - before
        if len(moved.applied) != args.due or moved.failed or letters != args.due:
            raise SystemExit(f"expected {args.due} reminders: {len(moved.applied)} applied, {letters} letters, "
                             f"failures {moved.failed[:3]}")
        again = service().scheduler().run_once()
        if again.applied:
            raise SystemExit(f"a second run moved {len(again.applied)} cases again")

        svc = service()
        with database.read() as session:
            ids = list(session.scalars(select(CaseRecord.id).where(CaseRecord.is_open.is_(True))))
        paths = ["/c/" + svc.issue_portal_link(c).rsplit("/c/", 1)[1] for c in random.Random(9).sample(ids, 1000)]
        database_url = database.url.render_as_string(hide_password=False)
        settings = Settings(rpc_url=url, deployments_dir=deployments, data_dir=scratch / "data",
                            public_url=f"http://127.0.0.1:{api_port}", database_url=database_url,
                            portal_per_minute=10_000_000, rate_limit_per_minute=10_000_000)
        app = create_app(settings)
        app.state.cases_clock = clock
        server = serve(app, api_port)
        load(api_port, paths, args.clients, args.clients * 4)  # warm-up
        load(api_port, ["/verify"], args.clients, args.clients * 4)
        portal = figures(load(api_port, paths, args.clients, args.requests))
        floor = figures(load(api_port, ["/verify"], args.clients, args.requests))
        server.should_exit = True

        print(json.dumps({
            "database": database.url.get_backend_name(), "open_cases": args.cases, "due": args.due,
            "seed_s": round(seed_s, 1), "idle_run_s": round(idle_s, 2), "due_run_s": round(due_s, 2),
            "transitions_per_s": round(len(moved.applied) / due_s, 1), "letters_sent": letters,
            "portal": portal, "floor": floor, "clients": args.clients, "requests": args.requests,
            "portal_over_floor": round(portal["p50_ms"] / max(floor["p50_ms"], 0.001), 2),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }, indent=2))
    finally:
        smtp.stop()
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
