"""Forms: colander schemas, deform rendering in Chinese, and one base view for all of them.

A form view validates with colander, then hands the clean data to a service inside a
savepoint. If the service objects (an :class:`~portal.errors.InputError`), the
savepoint is rolled back, the message is shown next to its field, and nothing the
service did so far is kept: a form is saved whole or not at all.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import colander
import deform
from markupsafe import Markup
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPSeeOther
from pyramid.i18n import get_localizer
from pyramid.request import Request
from pyramid.threadlocal import get_current_request
from sqlalchemy.exc import IntegrityError

from portal.errors import InputError
from portal.i18n import N_, _

HERE = os.path.dirname(__file__)

#: shown when the database refuses a save the form's own checks allowed: two people
#: saved the same unique value at the same moment
CONFLICT = N_("Someone saved a conflicting entry just now. Please check the form and try again.")


@colander.deferred
def deferred_csrf_token(node: colander.SchemaNode, kw: dict[str, Any]) -> str:
    return str(kw["request"].session.get_csrf_token())


class CSRFSchema(colander.Schema):
    """Every form inherits this: Pyramid checks ``csrf_token`` before the view runs."""

    csrf_token = colander.SchemaNode(
        colander.String(),
        widget=deform.widget.HiddenWidget(),
        default=deferred_csrf_token,
        missing=colander.drop,
    )


def _translator(term: Any) -> str:
    request = get_current_request()
    if request is None:
        return term.interpolate() if hasattr(term, "interpolate") else str(term)
    return str(get_localizer(request).translate(term))


def renderer() -> deform.template.ZPTRendererFactory:
    search_path = (os.path.join(HERE, "templates"), deform.template.default_dir)
    return deform.ZPTRendererFactory(search_path, translator=_translator)


class FormView:
    """GET shows the form; POST validates, saves, redirects (Post/Redirect/Get).

    Subclasses set ``schema_class`` and implement :meth:`save`, returning the URL to
    go to next; they may override :meth:`appstruct` to fill the form for editing.
    """

    schema_class: ClassVar[type[colander.Schema]]
    buttons: ClassVar[tuple[tuple[str, str], ...]] = (("save", N_("Save")),)
    success_message: ClassVar[str | None] = N_("Saved.")
    form_id: ClassVar[str] = "form"

    def __init__(self, context: Any, request: Request) -> None:
        self.context = context
        self.request = request

    # -- hooks ---------------------------------------------------------------------
    def schema_bindings(self) -> dict[str, Any]:
        return {"request": self.request, "context": self.context}

    def appstruct(self) -> dict[str, Any]:
        return {}

    def save(self, appstruct: dict[str, Any]) -> str:
        raise NotImplementedError

    def extra(self) -> dict[str, Any]:
        """Template values beyond the form itself."""
        return {}

    # -- machinery -----------------------------------------------------------------
    def make_form(self) -> deform.Form:
        schema = self.schema_class().bind(**self.schema_bindings())
        localizer = get_localizer(self.request)
        buttons = [
            deform.Button(name=name, title=localizer.translate(_(title)), css_class="btn")
            for name, title in self.buttons
        ]
        return deform.Form(schema, buttons=buttons, formid=self.form_id)

    def __call__(self) -> Any:
        form = self.make_form()
        if self.request.method == "POST":
            try:
                appstruct = form.validate(self.request.POST.items())
            except deform.ValidationFailure as failure:
                return self.render(failure.field)
            savepoint = self.request.dbsession.begin_nested()
            try:
                location = self.save(appstruct)
                # Flush inside the savepoint so a unique constraint that another
                # request won in the meantime surfaces here, not at commit time.
                self.request.dbsession.flush()
            except InputError as error:
                savepoint.rollback()
                return self.render(self.attach_error(form, error))
            except IntegrityError:
                savepoint.rollback()
                return self.render(self.attach_error(form, InputError("", CONFLICT)))
            savepoint.commit()
            if self.success_message:
                self.request.session.flash(self.success_message, "success")
            return HTTPSeeOther(location)
        return self.render(form, self.appstruct())

    def attach_error(self, form: deform.Form, error: InputError) -> deform.Form:
        """Show a service's objection next to the field it names, keeping the user's input."""
        try:
            form.validate(self.request.POST.items())
        except deform.ValidationFailure as failure:  # pragma: no cover - validated above
            form = failure.field
        message = _(error.message, mapping=error.mapping)
        exc = colander.Invalid(form.schema, "")
        target = error.field if form.schema.get(error.field) is not None else None
        if target:
            exc[target] = message
        else:
            exc.msg = message
        form.widget.handle_error(form, exc)
        form.error = exc
        return form

    def render(self, form: deform.Form, appstruct: dict[str, Any] | None = None) -> dict[str, Any]:
        html = form.render() if appstruct is None else form.render(appstruct)
        # deform's templates escape every value they interpolate; the result is HTML.
        return {"form": Markup(html), "context": self.context, **self.extra()}  # noqa: S704


def redirect(request: Request, route: str, **kw: Any) -> HTTPSeeOther:
    return HTTPSeeOther(request.route_url(route, **kw))


def includeme(config: Configurator) -> None:
    deform.Form.set_default_renderer(renderer())
