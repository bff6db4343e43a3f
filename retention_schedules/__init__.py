"""The retention schedules shipped with archiver (YAML files), installed as package data."""
