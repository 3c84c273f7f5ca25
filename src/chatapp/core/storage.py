"""Static files storage: ServeStatic's compressed, hashed files, with the
``import`` lines of ES modules rewritten to the hashed names too, so a new
deployment never mixes old and new modules."""

from __future__ import annotations

from servestatic.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
