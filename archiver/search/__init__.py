"""Full-text search: the engine-neutral interface (:mod:`.interface`) and query language
(:mod:`.query`), the two engines (:mod:`.whoosh`, :mod:`.fts5`) opened by :mod:`.factory`,
and keeping the index in step with the database (:mod:`.indexing`, :mod:`.index_drift`)."""
