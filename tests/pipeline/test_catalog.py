"""The service catalogue: lookup by name or alias, strict YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vigil.pipeline.catalog import ServiceCatalog, load_catalog


def test_lookup_by_name_and_alias(catalog_path: Path) -> None:
    catalog = load_catalog(catalog_path)
    checkout = catalog.get("checkout")
    assert checkout is not None
    assert checkout.team == "shop"
    assert checkout.tier == 1
    assert checkout.dependencies == ["payments", "cart"]
    assert catalog.get("co") is checkout
    assert catalog.get("checkout-api") is checkout
    catalog_info = catalog.get("catalog")
    assert catalog_info is not None
    assert catalog_info.tier == 3
    assert catalog.get("nope") is None
    assert catalog.get(None) is None


def test_no_path_is_an_empty_catalogue() -> None:
    assert load_catalog(None).get("checkout") is None


def test_empty_file_is_an_empty_catalogue(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_catalog(path).services == []


@pytest.mark.parametrize(
    "text",
    [
        "services:\n  - name: checkout\n    owner: shop\n",
        "services:\n  - name: checkout\n    tier: 4\n",
        "servics: []\n",
    ],
)
def test_invalid_catalogue_is_an_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValidationError):
        load_catalog(path)


@pytest.mark.parametrize(
    "services",
    [
        [{"name": "cart"}, {"name": "cart", "team": "b"}],
        [{"name": "checkout", "aliases": ["cart"]}, {"name": "cart"}],
        [{"name": "a", "aliases": ["pg"]}, {"name": "b", "aliases": ["pg"]}],
    ],
)
def test_a_name_naming_two_services_is_refused(services: list[dict[str, object]]) -> None:
    with pytest.raises(ValidationError, match="names both"):
        ServiceCatalog.model_validate({"services": services})


def test_a_dependency_named_by_an_alias_is_its_service() -> None:
    catalog = ServiceCatalog.model_validate(
        {
            "services": [
                {"name": "checkout", "dependencies": ["pg-main", "cart"]},
                {"name": "postgres-main", "aliases": ["pg-main", "postgres"]},
                {"name": "cart"},
            ]
        }
    )
    checkout = catalog.get("checkout")
    assert checkout is not None
    assert checkout.dependencies == ["postgres-main", "cart"]
