"""The records desk: server-rendered pages and a JSON API over the library (``archiver web``).

Every page is a library call first; this room only signs people in, checks their role, passes
their account limit to the library, records what they looked at, and renders. Conventions for
adding pages are in ``archiver/web/README.md``.
"""

from archiver.web.app import create_app

__all__ = ["create_app"]
