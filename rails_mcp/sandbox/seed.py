"""The seeded world as plain data: what every fresh tenant starts from.

Kept free of any state model so it reads like the specification it copies; ``world.py``
turns it into a :class:`~rails_mcp.sandbox.world.World`. Values quoted by the seed
documents are marked (doc); the rest is reconstructed to fit them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from rails_mcp.wire import limits


def _id(prefix: str, n: int) -> UUID:
    """The seed's fixed-id pattern ``PP000000-0000-4000-8000-0000000000NN``."""
    return UUID(f"{prefix}000000-0000-4000-8000-{n:012x}")


#: Every seeded timestamp: fixed, so that two fresh tenants are byte-identical.
SEED_TIME = "2026-01-12T21:30:00Z"

# --- organizations and businesses -------------------------------------------------------

REPAIRER_ORG = _id("01", 0x01)
S1_ORG = _id("01", 0x10)
S2_ORG = _id("01", 0x11)
S3_ORG = _id("01", 0x12)

REPAIRER_SITE = _id("0b", 0x01)  # (doc)
S1 = _id("0b", 0x10)  # (doc)
S2 = _id("0b", 0x11)  # (doc)
S3 = _id("0b", 0x12)  # (doc)


@dataclass(frozen=True, slots=True)
class SeedOrganization:
    id: UUID
    name: str
    kind: Literal["repairer", "supplier"]


@dataclass(frozen=True, slots=True)
class SeedBusiness:
    id: UUID
    name: str
    organization_id: UUID
    #: Where suppliers ship to; only the repairer site has one.
    shipping_address: dict[str, str] | None = None


ORGANIZATIONS = (
    SeedOrganization(REPAIRER_ORG, "Riccarton Collision Ltd", "repairer"),
    SeedOrganization(S1_ORG, "Christchurch Toyota Ltd", "supplier"),
    SeedOrganization(S2_ORG, "Repco New Zealand Ltd", "supplier"),
    SeedOrganization(S3_ORG, "PartsMaster Aftermarket NZ Ltd", "supplier"),
)

BUSINESSES = (
    SeedBusiness(
        REPAIRER_SITE,
        "Riccarton Collision Centre",
        REPAIRER_ORG,
        {
            "line1": "120 Riccarton Road",
            "city": "Christchurch",
            "region": "Canterbury",
            "postal_code": "8011",
            "country_code": "NZ",
        },
    ),
    SeedBusiness(S1, "Christchurch Toyota — Parts", S1_ORG),
    SeedBusiness(S2, "Repco Trade — Christchurch", S2_ORG),
    SeedBusiness(S3, "PartsMaster Aftermarket NZ", S3_ORG),
)

# --- credentials and the OAuth clients ------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeedCredential:
    api_key: str
    integration_id: UUID
    scope: Literal["repairer", "supplier"]
    organization_id: UUID
    #: The integration's webhook signing secret (``pwh_`` + 32 hex).
    webhook_secret: str


REPAIRER_API_KEY = limits.DEMO_REPAIRER_API_KEY  # (doc)
REPAIRER_INTEGRATION_ID = UUID(limits.DEMO_REPAIRER_INTEGRATION_ID)  # (doc)
SUPPLIER_API_KEY = limits.DEMO_SUPPLIER_API_KEY  # (doc)
SUPPLIER_INTEGRATION_ID = UUID(limits.DEMO_SUPPLIER_INTEGRATION_ID)  # (doc)
REPAIRER_WEBHOOK_SECRET = "pwh_3f8a1c0d9e2b4a67b1c2d4e6f8a0b2c4"  # noqa: S105 - public demo value
SUPPLIER_WEBHOOK_SECRET = "pwh_8b4e2f1a6c0d3e9f7a25c4d6e8f0a2b4"  # noqa: S105 - public demo value

CREDENTIALS = (
    SeedCredential(
        REPAIRER_API_KEY, REPAIRER_INTEGRATION_ID, "repairer", REPAIRER_ORG, REPAIRER_WEBHOOK_SECRET
    ),
    SeedCredential(SUPPLIER_API_KEY, SUPPLIER_INTEGRATION_ID, "supplier", S1_ORG, SUPPLIER_WEBHOOK_SECRET),
)


@dataclass(frozen=True, slots=True)
class SeedOAuthClient:
    client_id: str
    client_secret: str
    oauth_enabled: bool
    organization_id: UUID
    access_codes: tuple[str, ...]


DEMO_CLIENT_ID = "partly_client_demo"  # (doc)
DEMO_CLIENT_SECRET = "secret_demo_8f3a"  # noqa: S105 - public demo value (doc)
DEMO_ACCESS_CODE = "ac_demo_valid_15m"  # (doc)
LEGACY_CLIENT_ID = "partly_client_legacy"
LEGACY_CLIENT_SECRET = "secret_legacy_0000"  # noqa: S105 - public demo value

OAUTH_CLIENTS = (
    SeedOAuthClient(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, True, REPAIRER_ORG, (DEMO_ACCESS_CODE,)),
    # An integration installed before OAuth: exercises o_auth_not_supported_by_integration.
    SeedOAuthClient(LEGACY_CLIENT_ID, LEGACY_CLIENT_SECRET, False, REPAIRER_ORG, ()),
)

# --- work providers ---------------------------------------------------------------------

AMI = _id("0a", 0x20)  # (doc)
WORK_PROVIDERS = (
    (AMI, "AMI Insurance"),
    (_id("0a", 0x21), "State Insurance"),
    (_id("0a", 0x22), "Tower Insurance"),
)

# --- the Corolla job, its parts and its basket --------------------------------------------

JOB_ID = _id("0d", 0x01)  # (doc)
JOB_EXTERNAL_ID = "CCC-2026-04817"  # (doc)
JOB_NUMBER = "J-4817"  # (doc)
CLAIM_NUMBER = "AMI-CLM-771204"  # (doc)
VEHICLE = {"chassis_number": "JTDBR32E730012345", "plate_number": "MJL472", "plate_state": "NZ"}

PartKind = Literal[
    "bumper_cover",
    "bumper_reinforcement",
    "headlamp_lh",
    "headlamp_rh",
    "grille",
    "radiator_support",
]


@dataclass(frozen=True, slots=True)
class SeedPart:
    id: UUID
    description: str
    ordered: bool


PARTS = (
    SeedPart(_id("0e", 0x01), "Front bumper cover", True),  # on PR-1
    SeedPart(_id("0e", 0x02), "Front bumper reinforcement", False),
    SeedPart(_id("0e", 0x03), "Headlamp assembly LH", False),
    SeedPart(_id("0e", 0x04), "Headlamp assembly RH", False),  # (doc id)
    SeedPart(_id("0e", 0x05), "Grille assembly", False),
    SeedPart(_id("0e", 0x06), "Radiator support", False),  # (doc id)
)


@dataclass(frozen=True, slots=True)
class SeedOffer:
    sellable_id: UUID
    name: str
    supplier_business_id: UUID
    job_part_id: UUID
    trade_price: str


def _offer(n: int, name: str, supplier: UUID, part: int, price: str) -> SeedOffer:
    return SeedOffer(_id("0f", n), name, supplier, _id("0e", part), price)


#: The twelve seeded offers, in the basket's order (new condition, quantity 1). S1, the only
#: supplier with a credential, offers exactly 01 (already ordered on PR-1), 07 and 0a, so its
#: unordered offers are the Quickstart's order: 631.00 + 468.00 = 1,099.00 NZD.
OFFERS = (
    _offer(0x01, "Toyota Genuine Front Bumper Cover", S1, 0x01, "512.00"),
    _offer(0x02, "Repco Front Bumper Cover", S2, 0x01, "289.00"),
    _offer(0x03, "Repco Bumper Reinforcement", S2, 0x02, "231.00"),
    _offer(0x04, "PartsMaster Bumper Reinforcement", S3, 0x02, "198.00"),
    _offer(0x05, "PartsMaster Headlamp LH", S3, 0x03, "356.00"),
    _offer(0x06, "Repco Headlamp LH", S2, 0x03, "402.00"),
    _offer(0x07, "Toyota Genuine Headlamp RH", S1, 0x04, "631.00"),  # (doc)
    _offer(0x08, "PartsMaster Headlamp RH", S3, 0x04, "389.00"),
    _offer(0x09, "Repco Grille", S2, 0x05, "188.00"),
    _offer(0x0A, "Toyota Genuine Radiator Support", S1, 0x06, "468.00"),  # (doc)
    _offer(0x0B, "Repco Radiator Support", S2, 0x06, "301.00"),
    _offer(0x0C, "PartsMaster Grille", S3, 0x05, "142.00"),
)

# --- PR-1, the procurement already placed --------------------------------------------------

PR1_ID = _id("10", 0x01)  # (doc)
PR1_SOURCE_ITEM_ID = _id("11", 0x01)
PR1_OFFER = OFFERS[0]

# --- the catalogue that prices parts identified later ------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogueOffer:
    """One offer a part of a given kind attracts: the seed's offers, generalised."""

    template: str
    name: str
    supplier_business_id: UUID
    trade_price: str


#: Offers per part kind, mirroring the seeded basket: S1 (the confirmable supplier) sells only
#: the bumper cover, the RH headlamp and the radiator support; the other kinds come from S2/S3.
CATALOGUE: dict[PartKind, tuple[CatalogueOffer, ...]] = {
    "bumper_cover": (
        CatalogueOffer("s1_bumper_cover", "Toyota Genuine Front Bumper Cover", S1, "512.00"),
        CatalogueOffer("s2_bumper_cover", "Repco Front Bumper Cover", S2, "289.00"),
    ),
    "bumper_reinforcement": (
        CatalogueOffer("s2_bumper_reinf", "Repco Bumper Reinforcement", S2, "231.00"),
        CatalogueOffer("s3_bumper_reinf", "PartsMaster Bumper Reinforcement", S3, "198.00"),
    ),
    "headlamp_lh": (
        CatalogueOffer("s3_headlamp_lh", "PartsMaster Headlamp LH", S3, "356.00"),
        CatalogueOffer("s2_headlamp_lh", "Repco Headlamp LH", S2, "402.00"),
    ),
    "headlamp_rh": (
        CatalogueOffer("s1_headlamp_rh", "Toyota Genuine Headlamp RH", S1, "631.00"),
        CatalogueOffer("s3_headlamp_rh", "PartsMaster Headlamp RH", S3, "389.00"),
    ),
    "grille": (
        CatalogueOffer("s2_grille", "Repco Grille", S2, "188.00"),
        CatalogueOffer("s3_grille", "PartsMaster Grille", S3, "142.00"),
    ),
    "radiator_support": (
        CatalogueOffer("s1_radiator_support", "Toyota Genuine Radiator Support", S1, "468.00"),
        CatalogueOffer("s2_radiator_support", "Repco Radiator Support", S2, "301.00"),
    ),
}
