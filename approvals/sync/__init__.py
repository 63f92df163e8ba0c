"""Prompts as code: a folder of YAML files (one per prompt, promptfoo suites beside them)
synced into the portal, and the portal's prompts exported in the same format."""

from approvals.sync.export import prompts_export
from approvals.sync.files import SyncFile, read_folder, write_folder
from approvals.sync.services import FileResult, SyncReport, prompts_sync

__all__ = [
    "FileResult",
    "SyncFile",
    "SyncReport",
    "prompts_export",
    "prompts_sync",
    "read_folder",
    "write_folder",
]
