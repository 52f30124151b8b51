"""The signing routes' dependency: an authenticated client whose integration
has reached the pilot."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from sceau.auth.http import authenticated_client
from sceau.auth.service import AuthenticatedClient
from sceau.lifecycle.service import require_open


async def open_client(
    client: Annotated[AuthenticatedClient, Depends(authenticated_client)],
) -> AuthenticatedClient:
    require_open(client.state)
    return client
