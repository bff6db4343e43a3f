"""Retention schedules, legal holds and defensible disposition.

Modules: ``schedule`` (YAML schedules, validated with line numbers), ``assign`` (series and
disposition dates), ``loading`` (the active schedule), ``holds``, ``protection`` (holds and open
records requests), ``report``, ``purge``, ``tombstones``, ``certificate``, ``transfer`` (BagIt).
"""
