"""Pipeline fixtures: a service catalogue file."""

from __future__ import annotations

from pathlib import Path

import pytest

CATALOG = """\
services:
  - name: checkout
    team: shop
    tier: 1
    dependencies: [payments, cart]
    runbook_url: https://runbooks.example/checkout
    repository: https://git.example/shop/checkout
    aliases: [checkout-api, co]
  - name: payments
    team: payments
    tier: 2
    dependencies: [postgres-main]
  - name: catalog
"""


@pytest.fixture
def catalog_path(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG)
    return path
