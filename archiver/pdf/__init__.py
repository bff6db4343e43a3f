"""PDF output: the document writer, PDF/A metadata and the text shaping, with bundled fonts."""
