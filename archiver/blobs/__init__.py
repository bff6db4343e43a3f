"""Content-addressed blobs: the interface (:mod:`.interface`), a local folder (:mod:`.local`),
S3 with Object Lock (:mod:`.s3`), and :mod:`.factory`, which opens the one the settings name."""
