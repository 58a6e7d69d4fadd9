"""/static/ served by the app (BALROG_PLAY_SERVE_STATIC): staticfiles' own view,
answered whole instead of streamed.

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
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase

MAX_WHOLE_BYTES = 4 * 1024 * 1024


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
