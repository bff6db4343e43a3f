"""archiver: records retention and e-discovery for an agency's official social media."""

__version__ = "0.1.0"
