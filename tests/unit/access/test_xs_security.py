"""xs-security.json (what BTP deploys) agrees with access/policy.py (what the code enforces)."""

from __future__ import annotations

import json
from pathlib import Path

from access.policy import ATTRIBUTES, ROLE_ATTRIBUTES, Role, attributes_from_claim, roles_from_scopes

SECURITY = json.loads((Path(__file__).resolve().parents[3] / "xs-security.json").read_text())


def test_one_scope_per_role() -> None:
    assert {s["name"] for s in SECURITY["scopes"]} == {f"$XSAPPNAME.{role.value}" for role in Role}


def test_attributes_match() -> None:
    assert {a["name"] for a in SECURITY["attributes"]} == set(ATTRIBUTES)


def test_role_templates_grant_their_scope_and_carry_their_attributes() -> None:
    templates = {t["name"]: t for t in SECURITY["role-templates"]}
    assert set(templates) == {role.value for role in Role}
    for role in Role:
        template = templates[role.value]
        assert template["scope-references"] == [f"$XSAPPNAME.{role.value}"]
        assert tuple(template.get("attribute-references", [])) == ROLE_ATTRIBUTES[role]


def test_role_collections_reference_existing_templates() -> None:
    templates = {t["name"] for t in SECURITY["role-templates"]}
    collections = {c["name"]: c for c in SECURITY["role-collections"]}
    assert set(collections) == {role.value for role in Role}
    for collection in collections.values():
        for reference in collection["role-template-references"]:
            assert reference.removeprefix("$XSAPPNAME.") in templates


def test_scopes_map_to_roles_only_with_our_prefix() -> None:
    granted = roles_from_scopes(["app!t1.Executive", "app!t1.Nope", "other.PlantManager", "openid"], "app!t1")
    assert granted == frozenset({Role.EXECUTIVE})


def test_attribute_claim_is_sanitised() -> None:
    claim = {"Plant": ["1010", "", 7], "WorkCenter": "ASSY", "Other": ["x"]}
    assert attributes_from_claim(claim) == {"Plant": ("1010",), "WorkCenter": ()}
    assert attributes_from_claim(None) == {}


def test_oauth2_configuration_registers_the_router_and_a_native_app_only() -> None:
    """Production redirect URIs: the application router's callback on BTP (https) and the native app's scheme;
    never plain http (local ones are the development IdP's own setting, DEV_IDP_REDIRECT_URIS)."""
    config = SECURITY["oauth2-configuration"]
    uris = config["redirect-uris"]
    assert any(uri.startswith("https://") and uri.endswith("/login/callback") for uri in uris)
    assert any(not uri.startswith(("http://", "https://")) for uri in uris)
    assert not any(uri.startswith("http://") for uri in uris)
    # No wildcard in a host: `https://*.cfapps...` would hand codes to any app anyone deploys on that domain.
    assert not any("*" in uri.split("://", 1)[1].split("/", 1)[0] for uri in uris)
    assert 0 < config["token-validity"] <= 3600 < config["refresh-token-validity"]
