"""Write the sample content through ContentService, with a history a real item would have.

Each published item is created by the editor, submitted, and approved by the
reviewer at its publication time, so item pages show revisions and workflow events
like any other. The service reads time from a clock we move item by item; that is
how ``published_at`` spreads over the last eighteen months while staying the same
on every run.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from zope.interface import implementer

from portal.clock import LOCAL_TZ, IClock
from portal.content.files import LocalFileStorage
from portal.content.models import ContentItem, Section, State, Validity
from portal.content.services import ContentService
from portal.departments.models import Department
from portal.sampledata import bodies
from portal.sampledata.bodies import Context
from portal.sampledata.departments import LEADERS
from portal.sampledata.news import INDUSTRY_NEWS, SERVICE_NEWS
from portal.sampledata.people import Cast
from portal.sampledata.policies import INTERPRETATIONS, POLICIES
from portal.sampledata.regulations import REGULATIONS
from portal.sampledata.specs import NewsSpec, RegulationSpec

#: prefix of ``ContentItem.source_id`` for sample items: how a re-run recognises them
SOURCE_PREFIX = "sample:"

#: how far back the sample sections reach
SPAN_DAYS = 540

#: industries a regulation's 主题分类 concerns (GB/T 4754 sections)
TOPIC_INDUSTRIES = {
    "工业、交通": "CG",
    "城乡建设、环境保护": "EKN",
    "商贸、海关、旅游": "FH",
    "财政、金融、审计": "J",
    "科技、教育": "M",
    "市场监管": "FO",
    "安全生产监管": "C",
}


@implementer(IClock)
class SettableClock:
    """The service's clock while seeding: set to each step's moment in turn."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def _ignore(_event: Any) -> None:
    """Seeding runs outside the web app: there are no subscribers to tell."""


class Publisher:
    """Creates sample items that do not exist yet, each with its workflow history."""

    def __init__(
        self,
        db: Session,
        settings: dict[str, Any],
        cast: Cast,
        departments: dict[str, Department],
        base: datetime,
    ) -> None:
        self.db = db
        self.cast = cast
        self.departments = departments
        self.base = base
        self.clock = SettableClock(base)
        self.service = ContentService(
            db,
            self.clock,
            LocalFileStorage(settings["qzt.storage_dir"]),
            _ignore,
            settings["qzt.upload.max_bytes"],
        )
        self.items: dict[str, ContentItem] = {
            item.source_id: item
            for item in db.scalars(
                select(ContentItem).where(ContentItem.source_id.like(f"{SOURCE_PREFIX}%"))
            )
            if item.source_id
        }

    # -- times -------------------------------------------------------------------------
    def local(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), LOCAL_TZ).astimezone(self.base.tzinfo)

    def spread(self, index: int, count: int) -> datetime:
        """The publication moment of the ``index``-th newest of ``count`` items."""
        days = 2 + index * SPAN_DAYS // count + index * 5 % 4
        day = self.base.astimezone(LOCAL_TZ).date() - timedelta(days=days)
        return self.local(day, 9 + index % 8, index * 7 % 60)

    def recent(self, index: int) -> datetime:
        """When a draft or pending item was started: within the last few days."""
        day = self.base.astimezone(LOCAL_TZ).date() - timedelta(days=1 + index % 4)
        return self.local(day, 10, index * 11 % 60)

    # -- writing -----------------------------------------------------------------------
    def put(
        self, section: Section, key: str, data: dict[str, Any], state: str, at: datetime
    ) -> ContentItem:
        """The item ``key`` of ``section``, created in ``state`` unless it exists.

        ``at`` is the publication moment for published items, the start of work
        for drafts and pending ones.
        """
        source_id = f"{SOURCE_PREFIX}{section.value}:{key}"
        if source_id in self.items:
            return self.items[source_id]
        editor, reviewer = self.cast
        created = at - timedelta(hours=26 + len(key) % 20) if state == State.PUBLISHED else at
        self.clock.at = created
        item = self.service.create(section, data, editor)
        item.source_id = source_id
        if state in (State.PENDING, State.PUBLISHED):
            self.clock.at = created + timedelta(hours=2)
            self.service.transition(item, "submit", editor)
        if state == State.PUBLISHED:
            self.clock.at = at
            self.service.transition(item, "publish", reviewer)
        self.items[source_id] = item
        return item

    def context(self, code: str, index: int) -> Context:
        dept = self.departments.get(code)
        return Context(
            dept.name if dept else "市政府有关部门", dept.phone if dept else "12345", index
        )

    def dept_id(self, code: str) -> int | None:
        dept = self.departments.get(code)
        return dept.id if dept else None

    # -- sections ----------------------------------------------------------------------
    def policies(self) -> dict[str, ContentItem]:
        found = {}
        for index, spec in enumerate(POLICIES):
            text = bodies.policy_text(spec, self.context(spec.dept, index))
            data = {
                "title": spec.title,
                "summary": text.summary,
                "body": text.body,
                "department_id": self.dept_id(spec.dept),
                "topic": "涉企政策",
                "industries": list(spec.industries),
            }
            at = self.spread(index, len(POLICIES))
            if spec.state != State.PUBLISHED:
                at = self.recent(index)
            found[spec.key] = self.put(Section.POLICY, spec.key, data, spec.state, at)
        return found

    def interpretations(self, policies: dict[str, ContentItem]) -> None:
        by_key = {spec.key: spec for spec in POLICIES}
        for spec in INTERPRETATIONS:
            policy, item = by_key[spec.policy], policies[spec.policy]
            text = bodies.interpretation_text(spec, policy)
            data = {
                "title": bodies.interpretation_title(policy),
                "summary": text.summary,
                "body": text.body,
                "department_id": item.department_id,
                "topic": "政策解读",
                "interprets_id": item.id,
                "industries": list(policy.industries),
            }
            when = (item.published_at or self.base) + timedelta(days=2, hours=3)
            at = min(when, self.base - timedelta(hours=20))
            self.put(Section.INTERPRETATION, spec.key, data, State.PUBLISHED, at)

    def news(self, section: Section, specs: tuple[NewsSpec, ...]) -> None:
        for index, spec in enumerate(specs):
            text = bodies.news_text(spec, self.context(spec.dept, index))
            data = {
                "title": spec.title,
                "summary": text.summary,
                "body": text.body,
                "department_id": self.dept_id(spec.dept),
                "industries": list(spec.industries),
            }
            at = self.spread(index, len(specs))
            if spec.state != State.PUBLISHED:
                at = self.recent(index)
            self.put(section, spec.key, data, spec.state, at)

    def regulations(self) -> None:
        items = {}
        for index, spec in enumerate(REGULATIONS):
            items[spec.key] = self.put(
                Section.REGULATION,
                spec.key,
                self.regulation_data(index, spec),
                State.PUBLISHED,
                self.local(date.fromisoformat(spec.published), 10 + index % 6, index * 13 % 60),
            )
        self.lapse(items)

    def regulation_data(self, index: int, spec: RegulationSpec) -> dict[str, Any]:
        published = date.fromisoformat(spec.published)
        effective = published + timedelta(days=spec.effective_after)
        dept = self.departments.get(spec.dept)
        effective_text = f"{effective.year}年{effective.month}月{effective.day}日"
        text = bodies.regulation_text(
            spec, self.context(spec.dept, index), effective_text, LEADERS[0].name
        )
        sequence = 100 + index * 7
        organisation = f"00702{dept.sort_order if dept else 0:04d}"  # 索引号: 机构代码/年份-序号
        return {
            "title": spec.title,
            "summary": text.summary,
            "body": text.body,
            "department_id": dept.id if dept else None,
            "index_no": f"{organisation}/{published.year}-{sequence:05d}",
            "topic": spec.topic,
            "issuer": bodies.issuer_of(spec.doc_number, dept.name if dept else ""),
            "doc_number": spec.doc_number,
            "written_date": published - timedelta(days=3 + index % 9),
            "publish_date": published,
            "effective_date": effective,
            # Every document starts in force; lapse() records when it stopped being so.
            "validity": Validity.IN_FORCE.value,
            "industries": list(TOPIC_INDUSTRIES.get(spec.topic, "")),
        }

    def lapse(self, items: dict[str, ContentItem]) -> None:
        """Mark amended, repealed and expired documents, linking their replacement.

        Done as an edit by the reviewer when the newer document came out, so the old
        item's revisions show the change.
        """
        newer = {spec.replaces: items[spec.key] for spec in REGULATIONS if spec.replaces}
        for spec in REGULATIONS:
            item = items[spec.key]
            if spec.validity == Validity.IN_FORCE or item.validity == spec.validity:
                continue
            replacement = newer.get(spec.key)
            when = replacement.published_at if replacement else None
            self.clock.at = when or self.base - timedelta(days=55)
            change = {
                "validity": spec.validity,
                "replaced_by_id": replacement.id if replacement else None,
            }
            self.service.update(item, change, self.cast.reviewer)


def load_content(
    db: Session,
    settings: dict[str, Any],
    cast: Cast,
    departments: dict[str, Department],
    base: datetime,
) -> None:
    publisher = Publisher(db, settings, cast, departments, base)
    policies = publisher.policies()
    publisher.interpretations(policies)
    publisher.regulations()
    publisher.news(Section.INDUSTRY, INDUSTRY_NEWS)
    publisher.news(Section.SERVICE, SERVICE_NEWS)
    db.flush()
