"""The connector form: settings, write-only secrets and the inline's locations, checked by
the API's own rules (connectors.sync.configure) before anything is saved."""

from __future__ import annotations

from django import forms
from django.forms.models import BaseInlineFormSet

from connectors.models import Connector, LocationMapping
from connectors.sync.configure import (
    InvalidConnectorSettings,
    LocationInput,
    check_connector,
    create_connector,
    update_connector,
)
from connectors.sync.feeds import MAX_FEED_BYTES
from inventory_hub.json_input import load_json

# Listed, not excluded: a field added to the model later must not appear (and be shown
# back) without someone deciding it may.
SETTING_FIELDS = [
    "name",
    "kind",
    "is_active",
    "base_url",
    "channel",
    "ownership",
    "options",
    "poll_interval_seconds",
    "push_rate_per_second",
    "timeout_seconds",
]
LOCATION_FIELDS = ["location", "warehouse", "is_store_owned"]
LOCATION_PREFIX = "location_mappings"  # the inline's, so the form can read what it submits
# The form field that shows a refusal naming a setting (see InvalidConnectorSettings.field).
FORM_FIELDS = {"webhook_secret": "new_webhook_secret", "credentials": "new_credentials"}
# A string: django-stubs' generic formset classes take no subscript at runtime.
LocationFormSet: type[BaseInlineFormSet[LocationMapping, Connector, forms.ModelForm]] = (
    forms.inlineformset_factory(
        Connector, LocationMapping, fields=LOCATION_FIELDS, extra=0, can_delete=True
    )
)


def submitted_locations(formset: forms.BaseInlineFormSet) -> list[LocationInput]:
    """The location mappings a valid formset stands for once saved: the stored ones, as its
    forms change or delete them, and its new ones (a stored mapping it has no form for is
    kept, as Django's own formset saving would)."""
    stored = (
        LocationMapping.objects.filter(connector=formset.instance).select_related("warehouse")
        if formset.instance.pk is not None
        else []
    )
    locations = {
        mapping.pk: LocationInput(mapping.location, mapping.warehouse, mapping.is_store_owned)
        for mapping in stored
    }
    added = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data:
            continue  # an untouched extra form
        existing = data.get("id")
        if data.get("DELETE"):
            if existing is not None:
                locations.pop(existing.pk, None)
            continue
        location = LocationInput(
            location=data.get("location") or "",
            warehouse=data["warehouse"],
            is_store_owned=data.get("is_store_owned"),
        )
        if existing is not None:
            locations[existing.pk] = location
        else:
            added.append(location)
    return [*locations.values(), *added]


class ConnectorForm(forms.ModelForm):
    base_url = forms.URLField(required=False, max_length=500, assume_scheme="https")
    new_credentials = forms.CharField(
        label="Credentials",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text='A JSON object, e.g. {"consumer_key": "…", "consumer_secret": "…"} (see the '
        "store class). Write-only: leave blank to keep what is stored.",
    )
    new_webhook_secret = forms.CharField(
        label="Webhook secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only: leave blank to keep what is stored. WooCommerce: leave it "
        "empty, setup makes one. Magento and partners: required to switch the connector on; "
        "choose a long random value and give the sender the same.",
    )
    clear_secrets = forms.BooleanField(
        required=False, help_text="Remove the stored credentials and webhook secret."
    )

    class Meta:
        model = Connector
        fields = SETTING_FIELDS

    def clean_new_credentials(self) -> dict | None:
        raw = self.cleaned_data.get("new_credentials") or ""
        if not raw:
            return None
        try:
            value = load_json(raw)  # refuses NUL (jsonb holds none) and deep nesting
        except ValueError:
            # The message must not echo the input: it is a secret.
            raise forms.ValidationError("Credentials must be a JSON object.") from None
        if not isinstance(value, dict) or not all(
            isinstance(key, str) and isinstance(item, str) for key, item in value.items()
        ):
            raise forms.ValidationError(
                'Credentials must be a JSON object of text values, e.g. {"token": "…"}.'
            )
        return value

    def clean(self) -> dict:
        super().clean()
        cleaned = self.cleaned_data  # what Form.clean returns, typed as a dict
        if self.errors:
            return cleaned  # each field's own error first: the settings are incomplete
        credentials, webhook_secret = self._secrets()
        draft = Connector(
            pk=self.instance.pk,
            kind=self.instance.kind,
            credentials=self.instance.credentials if credentials is None else credentials,
            webhook_secret=self.instance.webhook_secret
            if webhook_secret is None
            else webhook_secret,
        )
        for name, value in self._settings().items():
            setattr(draft, name, value)
        try:
            check_connector(draft, locations=self._submitted_locations())
        except InvalidConnectorSettings as error:
            self.add_error(FORM_FIELDS.get(error.field, error.field), str(error))
        return cleaned

    def _settings(self) -> dict:
        # The kind is read-only on a saved connector (as in the API): not in the form then.
        settings = {name: self.cleaned_data[name] for name in SETTING_FIELDS if name in self.fields}
        settings["options"] = settings["options"] or {}  # an emptied field: no options
        return settings

    def _secrets(self) -> tuple[dict | None, str | None]:
        """(credentials, webhook secret) to store; None keeps what is stored."""
        credentials = self.cleaned_data.get("new_credentials")
        webhook_secret = self.cleaned_data.get("new_webhook_secret") or None
        if self.cleaned_data.get("clear_secrets"):
            credentials = {} if credentials is None else credentials
            webhook_secret = webhook_secret or ""
        return credentials, webhook_secret

    def _submitted_locations(self) -> list[LocationInput] | None:
        """The locations the admin's inline submits with this form; None (check against
        the stored ones) when it submits none or they are invalid: the inline says why."""
        formset = LocationFormSet(self.data, instance=self.instance, prefix=LOCATION_PREFIX)
        if not formset.is_valid():
            return None
        return submitted_locations(formset)

    def save(
        self, commit: bool = True, *, locations: list[LocationInput] | None = None
    ) -> Connector:
        """Without `commit`, the instance with the new values (nothing written). With it,
        the connector created or changed through connectors.sync.configure, `locations`
        replacing its mappings when given."""
        credentials, webhook_secret = self._secrets()
        if not commit:
            connector = super().save(commit=False)
            if credentials is not None:
                connector.credentials = credentials
            if webhook_secret is not None:
                connector.webhook_secret = webhook_secret
            return connector
        if self.instance.pk is None:
            saved = create_connector(
                credentials=credentials,
                webhook_secret=webhook_secret or "",
                locations=locations or (),
                **self._settings(),
            )
        else:
            saved = update_connector(
                self.instance,
                credentials=credentials,
                webhook_secret=webhook_secret,
                locations=locations,
                **self._settings(),
            )
        self.instance.pk = saved.pk
        self.instance.refresh_from_db()
        return self.instance


class FeedUploadForm(forms.Form):
    file = forms.FileField(
        help_text="CSV, UTF-8, with the partner's header (its csv_columns: sku and quantity "
        f"required; status, location, updated_at read when present); at most "
        f"{MAX_FEED_BYTES // (1024 * 1024)} MB."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_FEED_BYTES:
            raise forms.ValidationError(f"At most {MAX_FEED_BYTES // (1024 * 1024)} MB.")
        return upload
