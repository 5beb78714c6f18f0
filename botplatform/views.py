from __future__ import annotations

from django.contrib.contenttypes.views import shortcut
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts import access
from botplatform.health import health_report
from bots import media_files


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    report = health_report()
    return JsonResponse(report.as_json(), status=200 if report.ok else 503)


def view_on_site(request: HttpRequest, content_type_id: str, object_id: str) -> HttpResponse:
    """The admin's "view on site" link, which Django answers with a 500 when
    the object's id is not of its kind (a UUID mistyped, Django ticket
    #36267): such an id names nothing, so it is a 404."""
    try:
        return shortcut(request, content_type_id, object_id)
    except ValidationError:
        raise Http404(f"There is nothing with the id “{object_id}”.") from None


def media_file(request: HttpRequest, name: str) -> FileResponse:
    """An uploaded file (a post's image or video, a CSV import), for those who
    may see what it belongs to; to anyone else, as to a wrong name, a 404."""
    owner = media_files.owner_of(name)
    if owner is None or not access.allows(request.user, access.VIEW, owner):
        raise Http404("There is no such file.")
    try:
        return FileResponse(owner.file.open("rb"))
    except OSError:
        raise Http404("The file is missing from storage.") from None
