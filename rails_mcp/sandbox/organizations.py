"""The rules of organizations: their businesses, integration installs and work providers."""

from __future__ import annotations

import hmac
from uuid import uuid4

from rails_mcp.sandbox.world import Call, Credential, World
from rails_mcp.wire import errors as e
from rails_mcp.wire import models as m

__all__ = ["businesses_list", "integrations_insert", "work_providers_list"]


def businesses_list(world: World, call: Call, req: m.BusinessesListRequestV1) -> m.BusinessesListResponseV1:
    org = call.org
    return m.BusinessesListResponseV1(
        items=[
            m.BusinessV1(id=b.id, name=b.name) for b in world.businesses.values() if b.organization_id == org
        ]
    )


def integrations_insert(
    world: World, call: Call, req: m.IntegrationsInstallRequestV1
) -> m.IntegrationsInstallResponseV1:
    """The OAuth install handshake; checks in the order the error table lists them."""
    client = world.oauth_clients.get(req.client_id)
    if client is None:
        raise e.IntegrationNotFound()
    if not client.oauth_enabled:
        raise e.OAuthNotSupportedByIntegration()
    if not hmac.compare_digest(req.client_secret.encode(), client.client_secret.encode()):
        raise e.InvalidClientSecret()
    if req.access_code not in client.access_codes:
        raise e.InvalidAccessCode(detail="unknown or already exchanged access code")
    client.access_codes.remove(req.access_code)
    credential = Credential(
        api_key="partly_" + uuid4().hex,
        integration_id=uuid4(),
        scope="repairer",
        organization_id=client.organization_id,
        webhook_secret="pwh_" + uuid4().hex,
    )
    world.credentials[credential.api_key] = credential
    return m.IntegrationsInstallResponseV1(
        api_key=credential.api_key, integration_id=credential.integration_id
    )


def work_providers_list(
    world: World, call: Call, req: m.WorkProvidersListRequestV1
) -> m.WorkProvidersListResponseV1:
    return m.WorkProvidersListResponseV1(items=list(world.work_providers))
