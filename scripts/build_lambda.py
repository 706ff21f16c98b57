"""Build the Lambda deployment package reproducibly.

The zip holds only the `task_scheduler` package (its dependencies come from the
Lambda runtime and the Powertools layer). Entries are sorted, timestamps and
permissions fixed, and data stored uncompressed so that the bytes depend on the
sources alone, not on the machine's clock, umask or zlib build.
"""

import sys
import zipfile
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parent.parent / "lambda_src"
PACKAGE = "task_scheduler"
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--


def package_files(source_root: Path = SOURCE_ROOT) -> list[Path]:
    """The files that make up the package, relative to the source root, sorted."""
    return sorted(
        path.relative_to(source_root)
        for path in (source_root / PACKAGE).rglob("*")
        if path.is_file() and (path.suffix == ".py" or path.name == "py.typed")
    )


def build(destination: Path, source_root: Path = SOURCE_ROOT) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_STORED) as archive:
        for relative in package_files(source_root):
            entry = zipfile.ZipInfo(relative.as_posix(), date_time=FIXED_DATE_TIME)
            entry.external_attr = FILE_MODE << 16
            entry.create_system = 3  # Unix, so the mode above is honoured everywhere
            archive.writestr(entry, (source_root / relative).read_bytes())
    return destination


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: build_lambda.py DESTINATION.zip")
    print(build(Path(sys.argv[1])))
