"""The anchoring worker as it runs for real: in a background loop, several at
once, and seen by the operator through `sceau anchoring status`."""

from __future__ import annotations

import json
import threading
import time

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sceau.anchoring.models import AnchorBatch
from sceau.anchoring.worker import AnchoringLoop, anchoring_worker_for
from sceau.cli import main
from sceau.runtime import Runtime
from sceau.settings import get_settings
from tests.anchoring.conftest import Anchoring
from tests.anchoring.test_anchoring import sign, status
from tests.conftest import Provisioned


def test_background_loop_anchors_without_being_driven(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    pdf: bytes,
    anchoring: Anchoring,
) -> None:
    settings = runtime.settings.model_copy(
        update={
            "anchor_calendars": [c.url for c in anchoring.calendars],
            "anchor_header_source": f"esplora:{anchoring.chain.url}",
            "anchor_upgrade_min_seconds": 0.1,
        }
    )
    loop = AnchoringLoop(anchoring_worker_for(runtime.db, settings), interval=0.05)
    signed = sign(api, atlanta, pdf)
    loop.start()
    try:
        deadline = time.monotonic() + 20
        while status(api, atlanta, signed["ref_horodatage"])["statut"] != "soumis":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        anchoring.calendars[0].complete(height=910_000)
        while status(api, atlanta, signed["ref_horodatage"])["statut"] != "confirme":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        loop.stop()

    assert status(api, atlanta, signed["ref_horodatage"])["bloc"]["hauteur"] == 910_000


def test_two_workers_never_submit_a_batch_twice(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    pdf: bytes,
    anchoring: Anchoring,
) -> None:
    settings = runtime.settings.model_copy(
        update={
            "anchor_calendars": [c.url for c in anchoring.calendars],
            "anchor_header_source": f"esplora:{anchoring.chain.url}",
            "anchor_batch_max": 2,
        }
    )
    refs = [sign(api, atlanta, pdf)["ref_horodatage"] for _ in range(7)]
    workers = [anchoring_worker_for(runtime.db, settings) for _ in range(2)]
    start = threading.Barrier(2)

    def run(index: int) -> None:
        start.wait()
        for _ in range(3):
            workers[index].run_once()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with runtime.db.sessions() as session:
        batches = session.scalar(select(func.count()).select_from(AnchorBatch))
    assert batches == 4  # seven digests, two per batch
    assert [len(c.digests_received) for c in anchoring.calendars] == [4, 4]
    assert {status(api, atlanta, ref)["statut"] for ref in refs} == {"soumis"}


def test_operator_sees_queue_and_calendar_health(
    runtime: Runtime,
    api: TestClient,
    atlanta: Provisioned,
    pdf: bytes,
    anchoring: Anchoring,
) -> None:
    anchoring.calendars[1].mode = "error"
    sign(api, atlanta, pdf)
    anchoring.later(seconds=1)
    sign(api, atlanta, pdf)
    env = {
        "SCEAU_DATA_DIR": str(runtime.settings.data_dir),
        "SCEAU_DATABASE_URL": runtime.settings.resolved_database_url,
    }
    get_settings.cache_clear()

    result = CliRunner(env=env).invoke(main, ["anchoring", "status", "--json"])
    text = CliRunner(env=env).invoke(main, ["anchoring", "status"])
    get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["file_attente"] == 1
    assert data["soumis"] == 1 and data["en_attente"] == 1
    assert data["derniere_soumission"] is not None
    health = data["calendriers"]
    assert health[anchoring.calendars[0].url]["accepte"] == 1
    assert health[anchoring.calendars[1].url]["en_echec"] == 1
    assert "HTTP 500" in health[anchoring.calendars[1].url]["erreur"]
    assert "queued (no batch yet)  1" in text.stdout


def test_upgrades_ask_each_calendar_once_per_pass_while_nothing_is_ready(
    api: TestClient, atlanta: Provisioned, pdf: bytes, anchoring: Anchoring
) -> None:
    refs = []
    for _ in range(4):  # four batches, one per interval
        refs.append(sign(api, atlanta, pdf)["ref_horodatage"])
        anchoring.later(seconds=1)
    before = [c.upgrade_requests for c in anchoring.calendars]

    anchoring.later(hours=1)  # every batch is due for an upgrade
    asked = [
        c.upgrade_requests - b for c, b in zip(anchoring.calendars, before, strict=True)
    ]
    anchoring.calendars[0].complete(height=920_000)
    anchoring.later(hours=1)

    assert asked == [1, 1]
    assert {status(api, atlanta, ref)["statut"] for ref in refs} == {"confirme"}
