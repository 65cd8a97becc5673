"""/search (the page in every header) and /search.json (for tools and benchmarks)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pyramid.i18n import get_localizer
from pyramid.interfaces import ISecurityPolicy
from pyramid.request import Request
from pyramid.view import view_config

from portal.content.models import Section
from portal.content.views import SECTION_TITLES, VALIDITY_LABELS
from portal.i18n import N_, _
from portal.permissions import Permission as Perm
from portal.searching import params as search_params
from search.interfaces import ISearchService, Results

EMPTY_QUERY = N_("Please type what you are looking for.")
#: what search/ says it did to a query (search.querying); repeated here as literals
#: so the catalog extraction finds them, and a test keeps the two lists equal
SEARCH_NOTICES = (
    N_("Your search was shortened to its first ${n} characters."),
    N_("A quotation mark had no partner; it was ignored."),
    N_(
        "Please type what you are looking for: words such as “how” or “can” alone are not searched."
    ),
)
FACET_TITLES = {
    "section": N_("Section"),
    "department": N_("Department"),
    "year": N_("Year"),
    "status": N_("Validity"),
}


def _principals(request: Request) -> list[str]:
    policy = request.registry.queryUtility(ISecurityPolicy)
    return list(policy.effective_principals(request)) if policy else []


def _params(request: Request) -> search_params.SearchParams:
    size = request.registry.settings["qzt.search.page_size"]
    return search_params.parse(request.GET, size, _principals(request))


def _facet_label(name: str, value: str) -> str:
    if name == "section" and value in {s.value for s in Section}:
        return SECTION_TITLES[Section(value)]
    if name == "status":
        return VALIDITY_LABELS.get(value, value)  # type: ignore[call-overload]
    return value


def _notice_mapping(request: Request) -> dict[str, Any]:
    return {"n": request.registry.settings["qzt.search.max_query_chars"]}


@view_config(
    route_name="search", renderer="portal:templates/search/results.jinja2", permission=Perm.VIEW
)
def search_page(request: Request) -> dict[str, Any]:
    form = _params(request)
    results: Results | None = None
    if form.query.has_terms or form.query.has_filters:
        results = request.find_service(ISearchService).search(form.query)
    return {
        "form": form,
        "results": results,
        "facet_titles": FACET_TITLES,
        "facet_label": _facet_label,
        "section_titles": SECTION_TITLES,
        "validity_labels": VALIDITY_LABELS,
        "sections": [s.value for s in Section],
        "notice_mapping": _notice_mapping(request),
    }


@view_config(route_name="search.json", renderer="json", permission=Perm.VIEW)
def search_json(request: Request) -> dict[str, Any]:
    form = _params(request)
    translate = get_localizer(request).translate
    errors = dict(form.errors)
    if not (form.query.has_terms or form.query.has_filters):
        errors.setdefault("q", EMPTY_QUERY)
    if errors:
        request.response.status = 400
        return {"errors": {k: translate(_(v)) for k, v in errors.items()}}
    results = request.find_service(ISearchService).search(form.query)
    return {
        "query": form.query.text,
        "total": results.total,
        "page": results.page,
        "page_count": results.page_count,
        "hits": [
            {
                **asdict(hit),
                "url": request.script_name + hit.url,
                "date": hit.date.isoformat() if hit.date else None,
            }
            for hit in results.hits
        ],
        "facets": {name: [[v, n] for v, n in pairs] for name, pairs in results.facets.items()},
        "suggestion": results.suggestion,
        "notices": [translate(_(n, mapping=_notice_mapping(request))) for n in results.notices],
    }
