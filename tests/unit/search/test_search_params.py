"""The search form's parameters: bounded, validated field by field, never raising."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st
from webob.multidict import MultiDict

from portal.searching import params
from portal.searching.views import SEARCH_NOTICES
from search import querying


def parse(**values: str) -> params.SearchParams:
    return params.parse(MultiDict(values), 10, ["system.Everyone"])


def test_a_full_advanced_search_is_read():
    form = parse(
        q="小微企业",
        section="policy",
        status="in_force",
        year="2023",
        sort="date",
        page="3",
        date_from="2023-01-01",
        date_to="2023-12-31",
        title="所得税",
        doc_number="财税〔2023〕6号",
        issuer="财政部",
        department="市税务局",
    )
    q = form.query
    assert form.errors == {}
    assert (q.text, q.section, q.status, q.year, q.sort, q.page) == (
        "小微企业", "policy", "in_force", 2023, "date", 3
    )  # fmt: skip
    assert (q.date_from, q.date_to) == (date(2023, 1, 1), date(2023, 12, 31))
    assert (q.title, q.doc_number, q.issuer, q.department) == (
        "所得税", "财税〔2023〕6号", "财政部", "市税务局"
    )  # fmt: skip
    assert form.advanced
    assert q.principals == ("system.Everyone",)


def test_unusable_values_become_errors_for_their_fields():
    form = parse(q="就业", section="news", status="valid", year="20x3", date_from="2024-02-30")
    assert set(form.errors) == {"section", "status", "year", "date_from"}
    assert form.query.section == ""
    assert form.query.year is None
    assert form.query.date_from is None
    assert form.query.text == "就业"  # the rest still runs


def test_reversed_dates_are_an_error_on_the_end_date():
    form = parse(date_from="2024-03-01", date_to="2024-01-01")
    assert form.errors == {"date_to": params.DATES_REVERSED}
    assert form.query.date_from == date(2024, 3, 1)
    assert form.query.date_to is None


def test_page_and_sort_fall_back_quietly():
    assert parse(page="-1", sort="random").query.page == 1
    assert parse(sort="random").query.sort == "relevance"
    assert parse(page="99999999").query.page == params.MAX_PAGE


def test_links_keep_the_search_and_drop_the_page():
    form = parse(q="就业", section="policy", page="4")
    assert form.link(year=2023) == {"q": "就业", "section": "policy", "year": "2023"}
    assert form.link(section=None) == {"q": "就业"}


@given(
    st.dictionaries(
        st.sampled_from([*list(params.TEXT_FIELDS), "year", "page", "date_to"]), st.text()
    )
)
def test_any_parameters_parse(values):
    form = params.parse(MultiDict(values), 10, [])
    assert form.query.page >= 1
    assert len(form.query.text) <= params.TEXT_FIELDS["q"]


def test_digits_that_are_not_numbers_are_refused_not_raised():
    # "¹".isdigit() is true but int("¹") raises: found by the property test above
    form = parse(q="就业", page="¹", year="²⁰²³")
    assert form.query.page == 1
    assert form.query.year is None
    assert "year" in form.errors
    assert parse(q="就业", page="２").query.page == 2  # full-width digits are numbers


def test_the_portal_lists_every_notice_search_can_give():
    assert set(SEARCH_NOTICES) == {
        querying.TRUNCATED,
        querying.UNBALANCED_QUOTE,
        querying.NOTHING_TO_SEARCH,
    }
