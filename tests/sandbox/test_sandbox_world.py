"""The sandbox's rules and seed as plain Python: coverage of METHODS, pricing, the seed."""

from __future__ import annotations

import pytest

from rails_mcp.sandbox import seed
from rails_mcp.sandbox.jobs import part_kind
from rails_mcp.sandbox.rules import RULES
from rails_mcp.sandbox.world import World, seed_world
from rails_mcp.wire.methods import METHODS


def test_every_wire_method_has_exactly_one_rule():
    assert set(RULES) == set(METHODS)


def test_the_write_rules_are_exactly_the_methods_that_are_not_retry_safe():
    assert {n for n, r in RULES.items() if r.writes} == {n for n, s in METHODS.items() if not s.retry_safe}


def test_the_seed_is_the_same_document_every_time_and_survives_a_round_trip():
    first, second = seed_world(), seed_world()
    assert first.model_dump_json() == second.model_dump_json()
    assert World.model_validate_json(first.model_dump_json()) == first


def test_the_seed_has_the_documented_credentials_clients_and_organizations():
    world = seed_world()
    repairer = world.credentials["partly_demo_repairer_3f8a1c0d9e2b4a67b1c2"]
    supplier = world.credentials["partly_demo_supplier_8b4e2f1a6c0d3e9f7a25"]
    assert (str(repairer.integration_id), repairer.scope) == (
        "0c000000-0000-4000-8000-000000000001",
        "repairer",
    )
    assert (str(supplier.integration_id), supplier.scope) == (
        "0c000000-0000-4000-8000-000000000002",
        "supplier",
    )
    assert world.businesses[seed.S1].organization_id == supplier.organization_id
    assert world.oauth_clients["partly_client_demo"].access_codes == ["ac_demo_valid_15m"]
    assert not world.oauth_clients["partly_client_legacy"].oauth_enabled
    assert [str(o.id)[-2:] for o in world.organizations.values()] == ["01", "10", "11", "12"]
    assert world.organizations[repairer.organization_id].name == "Riccarton Collision Ltd"
    assert {b.organization_id for b in world.businesses.values()} == set(world.organizations)


@pytest.mark.parametrize(
    ("description", "kind"),
    [
        ("Front bumper cover", "bumper_cover"),
        ("Front bumper cover assembly", "bumper_cover"),
        ("Rear bumper fascia", "bumper_cover"),
        ("Front bumper reinforcement", "bumper_reinforcement"),
        ("Headlamp assembly LH", "headlamp_lh"),
        ("Left headlight", "headlamp_lh"),
        ("Head lamp L/H", "headlamp_lh"),
        ("Headlamp assembly RH", "headlamp_rh"),
        ("HEADLIGHT RIGHT", "headlamp_rh"),
        ("Grille assembly", "grille"),
        ("Radiator support", "radiator_support"),
        ("Radiator support panel", "radiator_support"),
        ("Headlamp assembly", None),
        ("Headlamp LH and RH pair", None),
        ("Bumper bracket", None),
        ("Radiator", None),
        ("Wheel arch liner", None),
    ],
)
def test_part_descriptions_map_to_catalogue_kinds_only_when_unambiguous(description: str, kind: str | None):
    assert part_kind(description) == kind


def test_the_catalogue_prices_each_seeded_part_exactly_as_its_seeded_offers():
    descriptions = {p.id: p.description for p in seed.PARTS}
    for o in seed.OFFERS:
        kind = part_kind(descriptions[o.job_part_id])
        assert kind is not None
        templates = {(t.name, t.supplier_business_id, t.trade_price) for t in seed.CATALOGUE[kind]}
        assert (o.name, o.supplier_business_id, o.trade_price) in templates
    assert sum(len(t) for t in seed.CATALOGUE.values()) == len(seed.OFFERS)
