"""HTTP answers for a snapshot's files: whole or by range, with a type Coffer chose.

Rules: the type comes from :func:`~coffer.browse.stream.sniff` (the file's first bytes), never
from the app's database or the file name; a type outside image/audio/video is sent as a
download (``Content-Disposition: attachment``); every file answer is also sandboxed by its own
CSP, so even a file opened directly can run nothing. Bytes are read blob by blob as the
response is sent (Starlette iterates the generator in its thread pool).
"""

from __future__ import annotations

import urllib.parse

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from coffer.browse.stream import BlobFile, RangeNotSatisfiable, inline, parse_range, sniff
from coffer.engine.repository import Repository
from coffer.engine.snapshot import Node

FILE_CSP = "default-src 'none'; sandbox"


def disposition(path: str, mime: str) -> str:
    name = path.rsplit("/", 1)[-1]
    quoted = urllib.parse.quote(name.encode("utf-8", "surrogateescape"), safe="")
    kind = "inline" if inline(mime) else "attachment"
    return f"{kind}; filename*=UTF-8''{quoted}"


def file_response(repo: Repository, node: Node, path: str, request: Request) -> Response:
    blobs = BlobFile.of(repo, node)
    mime = sniff(blobs.head())
    headers = {
        "accept-ranges": "bytes",
        "content-disposition": disposition(path, mime),
        "content-security-policy": FILE_CSP,
    }
    try:
        wanted = parse_range(request.headers.get("range"), blobs.size)
    except RangeNotSatisfiable:
        headers["content-range"] = f"bytes */{blobs.size}"
        return Response(b"", status_code=416, headers=headers)
    first, last, status = 0, blobs.size - 1, 200
    if wanted is not None:
        first, last = wanted
        status = 206
        headers["content-range"] = f"bytes {first}-{last}/{blobs.size}"
    headers["content-length"] = str(max(0, last - first + 1))
    if request.method == "HEAD" or blobs.size == 0:
        return Response(b"", status_code=status, headers=headers, media_type=mime)
    return StreamingResponse(blobs.read(first, last), status_code=status, headers=headers,
                             media_type=mime)  # fmt: skip
