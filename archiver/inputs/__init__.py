"""Reading operator-written files: YAML loaded safely (:mod:`.yaml_files`) and hints for its
mistakes (:mod:`.yaml_hints`)."""
