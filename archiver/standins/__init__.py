"""Stand-ins for the platforms' APIs, used only by the demo, the tests and the benchmarks.

Loopback HTTP servers that speak the Graph API (Facebook, Instagram), X, YouTube, WordPress,
MediaWiki and RSS/Atom the way the real services do, and the sample dataset they serve. They are
never pointed at real accounts and never touch real records; the archiver itself does not import
them outside ``archiver demo``.
"""
