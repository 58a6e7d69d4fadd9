"""/static/ served by the app (BALROG_PLAY_SERVE_STATIC).

ServeStatic's middleware (settings: SERVESTATIC_*) answers every file it
knows: after ``collectstatic`` with BALROG_STATIC_HASHED=1 (the image), the
content-hashed names pages link to, precompressed, with a year's immutable
cache (HashedStaticFilesStorage below); on a fresh clone, the finders' files
under their own names. What it does not know falls through to the view below:
staticfiles' own view, answered whole instead of streamed.

Django's ``serve`` answers a ``FileResponse``, which streams the file through a
synchronous iterator. Under ASGI, Django must then drain that iterator in a
thread and warns on every static request ("StreamingHttpResponse must consume
synchronous iterators..."): a page load logged half a dozen warnings. The
files served here (the play pages' scripts and styles, Crafter's textures) are
a few kilobytes each, so they are read in the view's own thread and sent in one
piece; a file past MAX_WHOLE_BYTES keeps streaming.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from django.contrib.staticfiles.views import serve
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from servestatic.storage import CompressedManifestStaticFilesStorage

MAX_WHOLE_BYTES = 4 * 1024 * 1024


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed, gzipped names, with the play scripts' ES module imports
    (``import ... from "./socket.js"``) rewritten to the hashed names too, so a
    deploy can never mix one release's modules with another's. A directory's
    URL (``static("crafter/")``: the renderer appends texture names) has no
    hash and stays as it is."""

    support_js_module_import_aggregation = True

    def url(self, name: str | None, force: bool = False) -> str:
        if name and name.endswith("/"):
            return FileSystemStorage.url(self, name)
        return super().url(name, force)


def serve_static(request: HttpRequest, path: str) -> HttpResponseBase:
    response = serve(request, path, insecure=True)
    if not isinstance(response, FileResponse) or response.file_to_stream is None:
        return response
    if int(response.get("Content-Length", "0")) > MAX_WHOLE_BYTES:
        return response
    # Only the file is closed: HttpResponse.close() would also send request_finished mid-request.
    with response.file_to_stream:
        whole = HttpResponse(b"".join(cast(Iterator[bytes], response.streaming_content)), status=response.status_code)
    for header, value in response.items():
        whole[header] = value
    return whole
