"""The data sources (`dataset=` config group, conf/dataset/<name>.yaml), collected from their modules.

Adding a source: a module here defining SOURCE (a runner.sources.SourceType: its name, its reader, whether
its rows come through the Python API), its preset conf/dataset/<name>.yaml and its schema fragment
schemas/sources/<name>.schema.json (the keys only it has; runner.config.validate adds the keys every
source has, and fills dataset.type's choices from here). Nothing else names a source. Static data:
importing this module imports no data library.
"""

from __future__ import annotations

from runner.sources import SourceType, files, hf, inline, python

SOURCES: dict[str, SourceType] = {
    kind.name: kind for kind in (inline.SAMPLE, inline.SOURCE, files.SOURCE, files.FOLDER, hf.SOURCE, python.SOURCE)
}
