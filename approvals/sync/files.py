"""The files of a sync, as text with their paths inside the folder, and their limits."""

import posixpath
from dataclasses import dataclass
from pathlib import Path

from portal.errors import ErrorCode, Invalid
from portal.validation import check_text

MAX_FILES = 500
MAX_FILE_BYTES = 256 * 1024
# Below the API's body limit (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MiB by default), which the
# JSON request must also fit: its quoting and escapes make the body larger than the text.
MAX_TOTAL_BYTES = 2 * 1024 * 1024
MAX_PATH_CHARS = 255
SUFFIXES = (".yaml", ".yml")
NOT_UTF8 = "is not UTF-8 text; save it as UTF-8"


@dataclass(frozen=True)
class SyncFile:
    path: str  # relative, "/"-separated: "support/refund-reply.yaml"
    content: str
    not_utf8: bool = False  # its bytes could not be read as text (content is then empty)


def check_path(path: str) -> str:
    """A relative path inside the folder, in canonical form; `Invalid` otherwise."""
    if not path or len(path) > MAX_PATH_CHARS:
        raise Invalid.field("path", f"A path has 1 to {MAX_PATH_CHARS} characters.")
    check_text(path, field="path")
    if path.startswith("/") or "\\" in path or posixpath.normpath(path) != path:
        raise Invalid.field("path", f"{path!r}: give a relative path like support/reply.yaml.")
    if path == ".." or path.startswith("../"):
        raise Invalid.field("path", f"{path!r} is outside the folder.")
    if not path.endswith(SUFFIXES):
        raise Invalid.field("path", f"{path!r}: only .yaml and .yml files are synced.")
    return path


def check_limits(files: list[SyncFile]) -> None:
    """The whole request's limits (each refused before anything is applied)."""
    if len(files) > MAX_FILES:
        raise Invalid.field(
            "files",
            f"At most {MAX_FILES} files per sync; got {len(files)}.",
            code=ErrorCode.TOO_LARGE,
        )
    paths = [check_path(file.path) for file in files]
    duplicates = sorted({path for path in paths if paths.count(path) > 1})
    if duplicates:
        raise Invalid.field("files", f"Each path once: {', '.join(duplicates)}.")
    total = 0
    for file in files:
        check_text(
            file.content,
            field=f"files.{file.path}",
            limit=MAX_FILE_BYTES,
            what=f"The file {file.path}",
        )
        total += len(file.content.encode())
    if total > MAX_TOTAL_BYTES:
        raise Invalid.field(
            "files",
            f"The files hold {total} bytes; at most {MAX_TOTAL_BYTES} per sync.",
            code=ErrorCode.TOO_LARGE,
        )


def read_folder(directory: Path) -> list[SyncFile]:
    """Every .yaml/.yml file under `directory` (hidden folders such as .git skipped); one
    that is not UTF-8 comes `not_utf8`, to be reported as an invalid file."""
    found = []
    for file in sorted(directory.rglob("*")):
        relative = file.relative_to(directory)
        if any(part.startswith(".") for part in relative.parts) or not file.is_file():
            continue
        if file.suffix in SUFFIXES:
            path = relative.as_posix()
            try:
                found.append(SyncFile(path=path, content=file.read_text(encoding="utf-8")))
            except UnicodeDecodeError:
                found.append(SyncFile(path=path, content="", not_utf8=True))
    return found


def write_folder(directory: Path, files: list[SyncFile]) -> None:
    for file in files:
        target = directory / check_path(file.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(file.content, encoding="utf-8")
