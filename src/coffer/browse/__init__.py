"""``coffer browse`` and ``coffer export html``: read the chats in a snapshot without restoring it.

Rules:
- Nothing is written into the user's folders. Every database of a snapshot is rebuilt into one
  private temporary folder (0700, :class:`~coffer.browse.workspace.Workspace`) that is removed
  when the command ends, Ctrl-C and SIGTERM included; media are streamed from the repository
  blob by blob, never restored wholesale.
- Databases are opened read-only (``mode=ro&immutable=1``); the only thing Coffer writes beside
  them is a full-text index in its own file of the same private folder.
- Message text and file names come from other people: every piece of content reaches a page
  through Jinja2's autoescape; pages carry a strict Content-Security-Policy without inline script;
  media are served with a type Coffer chose from the file's own first bytes (never the app's
  claim), with ``nosniff``; anything not on a short list of media types is a download.
- The server listens on 127.0.0.1 only; every request must carry the session token in its path
  and a ``Host`` of 127.0.0.1/localhost with the right port (DNS rebinding); no CORS headers.
- Apps are recognised by their schema through one table of adapters
  (:mod:`coffer.browse.adapters`); adding an app is one new file and one line there.

Exception tree (under :class:`coffer.errors.CofferError`)::

    BrowseError (1)
    ├── NothingToBrowse (2, also a UsageError)   no database in the snapshot / bad export target
    ├── NotFound (1)                             a snapshot, source, chat or file the URL names
    │                                            does not exist (HTTP 404)
    └── BadRequest (2, also a UsageError)        a malformed query parameter (HTTP 400)

Theory of operation: :mod:`.catalog` finds the databases of a snapshot and asks each adapter
"is this your schema?"; :mod:`.workspace` rebuilds each database once (logical mode through
:class:`~coffer.sqlite.proc.ProcessRestore`, page mode by writing its page blobs) and builds the
search index in the background; :mod:`.app` is a Starlette ASGI app whose views render the
adapters' chats and messages through :mod:`.render`; :mod:`.export` writes the same views as a
static folder.
"""
