"""The upload form and the streaming size limit that guards it."""

from __future__ import annotations

from django import forms
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from console.models import BundleUpload


class UploadForm(forms.Form):
    kind = forms.ChoiceField(choices=BundleUpload.KINDS, initial=BundleUpload.KIND_VAT,
                             help_text="What you mean this bundle to be; a mismatch with its manifest is refused.")
    bundle = forms.FileField(label="Bundle (.zip)", allow_empty_file=False)

    def __init__(self, *args, max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes
        self.fields["bundle"].help_text = f"At most {max_bytes:,} bytes."

    def clean_bundle(self):
        f = self.cleaned_data["bundle"]
        if f.size > self.max_bytes:  # checked before a single byte is read into memory
            raise forms.ValidationError(f"The file is {f.size:,} bytes, over the limit of {self.max_bytes:,} bytes.")
        return f


class SizeLimitUploadHandler(FileUploadHandler):
    """First in the handler chain: stops the upload as soon as the request says (or the
    stream shows) it is larger than the limit, so an oversized body is never stored, in
    memory or in a temporary file. The view reads `too_large` to say so clearly."""

    def __init__(self, request=None, *, max_bytes: int):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.too_large = False
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # The body carries form fields and multipart framing too: allow a little slack.
        if content_length and content_length > self.max_bytes + 64 * 1024:
            self.too_large = True

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.too_large or self.received > self.max_bytes:
            self.too_large = True
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None
