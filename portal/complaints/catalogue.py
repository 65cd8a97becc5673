"""The routing catalogue (category → 主办 + 协办 departments) as data.

The portal ships ``catalogue.json``; :func:`load_catalogue` adds the categories a
database lacks (by code) and leaves the ones an administrator already has alone,
so loading twice, or after edits on /cases/catalogue, changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.complaints.models import CaseCategory
from portal.departments.models import Department

log = logging.getLogger(__name__)

CATALOGUE_FILE = os.path.join(os.path.dirname(__file__), "catalogue.json")


def read_catalogue(path: str = CATALOGUE_FILE) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    entries: list[dict[str, Any]] = data["categories"]
    for entry in entries:
        missing = {"code", "name", "group"} - set(entry)
        if missing:
            raise ValueError(f"catalogue entry {entry!r} lacks {sorted(missing)}")
    return entries


def load_catalogue(db: Session, path: str = CATALOGUE_FILE) -> int:
    """Add the catalogue's missing categories; return how many were added."""
    departments = {d.code: d for d in db.scalars(select(Department))}
    have = set(db.scalars(select(CaseCategory.code)))
    added = 0
    for order, entry in enumerate(read_catalogue(path)):
        if entry["code"] in have:
            continue
        lead = departments.get(entry.get("lead") or "")
        if entry.get("lead") and lead is None:
            log.warning("catalogue %s: no department %s", entry["code"], entry["lead"])
        assists = [departments[c] for c in entry.get("assists", []) if c in departments]
        db.add(
            CaseCategory(
                code=entry["code"],
                name=entry["name"],
                group=entry["group"],
                description=entry.get("description", ""),
                lead_department=lead,
                assist_departments=[a for a in assists if a is not lead],
                is_active=True,
                sort_order=(order + 1) * 10,
            )
        )
        added += 1
    db.flush()
    return added
