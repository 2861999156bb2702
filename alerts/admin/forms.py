"""Admin forms whose save is a service call, made as the form's last check."""

from django import forms
from django.db.models import Model

from alerts.errors import AlertError


class ServiceForm(forms.ModelForm):
    """Once the form's own checks pass, `_post_clean` saves through the service
    (`save_through_service`): the service checks everything once more and refuses all or
    nothing, so its refusal becomes this form's error (on the field it names) with nothing
    written. The admin then adopts the row the service saved (`saved`)."""

    saved: Model | None = None

    def save_through_service(self) -> Model:
        raise NotImplementedError

    def _post_clean(self) -> None:
        # ModelForm's private step that builds the instance and runs model validation;
        # django-stubs does not declare it. The service call must come after it.
        super()._post_clean()  # type: ignore[misc]
        if self.errors:
            return
        try:
            self.saved = self.save_through_service()
        except AlertError as error:
            field = error.details.get("field")
            self.add_error(field if field in self.fields else None, error.message)

    def value_of(self, name: str, default: object = None) -> object:
        """The cleaned value, or the instance's for a field the form does not show."""
        if name in self.cleaned_data:
            value = self.cleaned_data[name]
            return default if value is None else value
        return getattr(self.instance, name)
