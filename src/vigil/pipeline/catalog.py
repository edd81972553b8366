"""The service catalogue: owner team, tier, dependencies, runbook and repository per service."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

__all__ = ["ServiceCatalog", "ServiceInfo", "load_catalog"]


class ServiceInfo(BaseModel):
    """One service as its owners describe it. Tier 1 is the most critical."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    team: str | None = None
    tier: Literal[1, 2, 3] = 3
    dependencies: list[str] = []
    runbook_url: str | None = None
    repository: str | None = None
    aliases: list[str] = []


class ServiceCatalog(BaseModel):
    """Lookup by service name or alias."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    services: list[ServiceInfo] = Field(default_factory=list)
    _index: dict[str, ServiceInfo] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _dependencies_by_name(cls, data: Any) -> Any:
        """A dependency named by an alias is the service it aliases (the call graph and
        the enrichment speak of services by their catalogue names)."""
        if not isinstance(data, dict) or not isinstance(data.get("services"), list):
            return data
        entries = [s.model_dump() if isinstance(s, ServiceInfo) else s for s in data["services"]]
        names = {
            alias: entry["name"]
            for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("name"), str)
            for alias in entry.get("aliases") or []
            if isinstance(alias, str)
        }
        services = [
            {**entry, "dependencies": [names.get(d, d) for d in entry["dependencies"]]}
            if isinstance(entry, dict) and isinstance(entry.get("dependencies"), list)
            else entry
            for entry in entries
        ]
        return {**data, "services": services}

    @model_validator(mode="after")
    def _one_service_per_name(self) -> ServiceCatalog:
        """A name or alias may name one service only; otherwise which one a lookup finds
        would depend on the order of the file."""
        owner: dict[str, str] = {}
        for info in self.services:
            for name in dict.fromkeys((info.name, *info.aliases)):
                if name in owner:
                    first = owner[name]
                    raise ValueError(f"{name!r} names both {first!r} and {info.name!r}")
                owner[name] = info.name
        return self

    def model_post_init(self, context: object, /) -> None:
        for info in self.services:
            for name in (info.name, *info.aliases):
                self._index[name] = info

    def get(self, name: str | None) -> ServiceInfo | None:
        return self._index.get(name) if name else None


def load_catalog(path: Path | None) -> ServiceCatalog:
    """Read the catalogue YAML (`services: [...]`); no path means an empty catalogue."""
    if path is None:
        return ServiceCatalog()
    data = yaml.safe_load(path.read_text()) or {}
    return ServiceCatalog.model_validate(data)
