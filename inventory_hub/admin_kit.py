"""Pieces every app's admin shares: saving through services, retiring instead of deleting,
identifiers fixed once given, and plain form pages.

The shared kit imports no app: each admin names its own services (`set_active`, its
`save_model`), and these pieces only call them.
"""

from typing import Generic, TypeVar

from django import forms
from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse


def changed_fields(obj: Model, form: forms.ModelForm, allowed: frozenset[str]) -> dict:
    """The form's changes that a service writes, with the values the form put on `obj`."""
    return {name: getattr(obj, name) for name in form.changed_data if name in allowed}


def adopt_saved(obj: Model, saved: Model) -> None:
    """Make the admin's unsaved instance the row that a create service inserted.

    The admin goes on with its own instance (its inlines, the log entry, the redirect), so
    it takes the saved row's key and every value the database filled in.
    """
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def _set_active(
    modeladmin: "DeactivateInsteadOfDeleteMixin",
    request: HttpRequest,
    queryset: QuerySet,
    *,
    is_active: bool,
) -> None:
    # One record at a time through its service, as the API's deactivate does: a warehouse
    # or channel switched off or on must reach the stores, a variant must drop its cached
    # answers. A plain flag, not a balance: stock and ledger rows keep pointing at it.
    changed = 0
    for obj in queryset.exclude(is_active=is_active).order_by("pk"):
        modeladmin.set_active(obj, is_active=is_active)
        changed += 1
    word = "Activated" if is_active else "Deactivated"
    modeladmin.message_user(
        request, f"{word} {changed} {modeladmin.opts.verbose_name_plural}.", messages.SUCCESS
    )


@admin.action(description="Deactivate selected (keeps their history)", permissions=["change"])
def deactivate(
    modeladmin: "DeactivateInsteadOfDeleteMixin", request: HttpRequest, queryset: QuerySet
) -> None:
    _set_active(modeladmin, request, queryset, is_active=False)


@admin.action(description="Activate selected", permissions=["change"])
def activate(
    modeladmin: "DeactivateInsteadOfDeleteMixin", request: HttpRequest, queryset: QuerySet
) -> None:
    _set_active(modeladmin, request, queryset, is_active=True)


_M = TypeVar("_M", bound=Model)
# The mixin's actions, for an admin that lists more of its own.
RETIRE_ACTIONS = (deactivate, activate)


class DeactivateInsteadOfDeleteMixin(admin.ModelAdmin, Generic[_M]):
    """Records that stock history refers to are retired with `is_active`, never deleted.

    Each admin using it names the service that switches one record (`set_active`), and
    its model as the parameter: `DeactivateInsteadOfDeleteMixin[Warehouse]`.
    """

    actions = [*RETIRE_ACTIONS]

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def set_active(self, obj: _M, *, is_active: bool) -> None:
        raise NotImplementedError


class FixedIdentifierMixin(admin.ModelAdmin):
    """The identifier is given once, as the API allows: stores and files know the record
    by it, so it is read-only on a saved record."""

    fixed_identifier = "code"

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list:
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, self.fixed_identifier] if obj is not None else fields


def form_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    *,
    template: str,
    title: str,
    obj: Model | None = None,
    **context,
) -> TemplateResponse:
    """An admin page of its own (a form beside the change page), in the admin's frame."""
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": title,
        "original": obj,
        **context,
    }
    return TemplateResponse(request, template, context)


def missing_object_redirect(
    model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str
) -> HttpResponseRedirect:
    """What Django's own change page answers for an object that is gone: a message, and
    back to the admin index."""
    # A private ModelAdmin method, which django-stubs does not declare.
    redirect = model_admin._get_obj_does_not_exist_redirect  # type: ignore[attr-defined]
    return redirect(request, model_admin.opts, object_id)
