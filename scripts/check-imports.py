#!/usr/bin/env python3
"""Fails when a module of ours imports one of ours that the layout forbids (docs/ARCHITECTURE.md).

Dependencies point inward: the engine (GatewayCore) knows only the IMAP value types; adapters
(stores, HTTP, IMAP) know the engine; only GatewayApp knows everything; the executable knows
GatewayApp. Third-party modules are not checked here (Package.swift pins them per target).

    scripts/check-imports.py              # check Sources/
    scripts/check-imports.py --self-test  # prove the check fails on a violation
"""
import pathlib
import re
import sys
import tempfile

# module -> modules of ours it may import
ALLOWED = {
    "IMAPCore": set(),
    "IMAPClient": {"IMAPCore"},
    "GatewayCore": {"IMAPCore"},
    "GatewayStore": {"GatewayCore"},
    "GatewayStorePostgres": {"GatewayCore"},
    "GatewayHTTP": {"GatewayCore"},
    "GatewayApp": None,  # any
    "MailboxGateway": {"GatewayApp"},
}

IMPORT = re.compile(
    r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|private|fileprivate)\s+)?"
    r"import\s+(?:(?:struct|class|enum|protocol|typealias|func|let|var)\s+)?([A-Za-z_][A-Za-z0-9_]*)"
)


def violations(sources: pathlib.Path) -> list[str]:
    ours = {p.name for p in sources.iterdir() if p.is_dir()}
    problems = []
    for module in sorted(ours):
        if module not in ALLOWED:
            problems.append(f"{module}: a module with no rule; add it to ALLOWED in {pathlib.Path(__file__).name}")
            continue
        allowed = ALLOWED[module]
        for path in sorted((sources / module).rglob("*.swift")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                match = IMPORT.match(line)
                if not match:
                    continue
                imported = match.group(1)
                if imported in ours and imported != module and allowed is not None and imported not in allowed:
                    may = ", ".join(sorted(allowed)) or "nothing of ours"
                    problems.append(f"{path}:{number}: {module} imports {imported} (it may import {may})")
    return problems


def self_test() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        for module in ("IMAPCore", "GatewayCore", "GatewayStore"):
            (root / module).mkdir()
        (root / "IMAPCore" / "A.swift").write_text("import NIOCore\n")
        (root / "GatewayStore" / "B.swift").write_text("import GRDB\nimport GatewayCore\n")
        (root / "GatewayCore" / "C.swift").write_text("import Foundation\n@preconcurrency import GatewayStore\n")
        found = violations(root)
        if len(found) != 1 or "GatewayCore imports GatewayStore" not in found[0]:
            print("self-test FAILED: expected exactly the GatewayCore -> GatewayStore violation, got:", found)
            return 1
    print("self-test passed: a forbidden import is reported")
    return 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    sources = pathlib.Path(__file__).resolve().parent.parent / "Sources"
    problems = violations(sources)
    for problem in problems:
        print(problem)
    if problems:
        print(f"import check: {len(problems)} forbidden import(s)")
        return 1
    print(f"import check: {sum(1 for _ in sources.rglob('*.swift'))} files, every import allowed by the layout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
