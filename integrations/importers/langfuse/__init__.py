"""Import prompts from Langfuse: read an instance's public prompt API or an export file
(`source`), then create namespaces, prompts, versions and labels through the services of the
apps below, one prompt per transaction (`apply`)."""

from integrations.importers.langfuse.apply import import_prompts
from integrations.importers.langfuse.report import ImportReport, PromptResult, report_lines
from integrations.importers.langfuse.source import (
    SourceError,
    SourcePrompt,
    SourceVersion,
    read_api,
    read_export,
)

__all__ = [
    "ImportReport",
    "PromptResult",
    "SourceError",
    "SourcePrompt",
    "SourceVersion",
    "import_prompts",
    "read_api",
    "read_export",
    "report_lines",
]
