"""Migration 0017 cannot go down while identities hold keys in the token:
their rows have nothing to put back in ``sealed_key``."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config

from sceau.db import MIGRATIONS_DIR
from sceau.runtime import Runtime
from tests.conftest import provision


def test_downgrade_below_0017_refuses_with_token_keys(hsm_runtime: Runtime) -> None:
    provision(hsm_runtime)

    with hsm_runtime.db.engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        with pytest.raises(RuntimeError, match="PKCS#11 token"):
            command.downgrade(config, "0016")
