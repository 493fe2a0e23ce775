#!/usr/bin/env python3
"""Fails when the packages a build resolved (Package.resolved) differ from scripts/pinned-versions.txt.

The Dockerfile builds with exactly the pinned versions; this check, run after the tests, keeps
that list true to what the tests ran with. After a deliberate upgrade, rewrite the list:

    scripts/check-pins.py            # compare
    scripts/check-pins.py --write    # rewrite pinned-versions.txt from Package.resolved
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PINS = ROOT / "scripts" / "pinned-versions.txt"
HEADER = [
    "# Every Swift package the gateway builds with (direct and transitive), at the version CI",
    "# resolved and tested. The Dockerfile pins each with `swift package resolve NAME --version V`;",
    "# integration/run-tests.sh fails when a test run resolved anything else (scripts/check-pins.py).",
    "# identity version location",
]


def resolved() -> dict[str, tuple[str, str]]:
    data = json.loads((ROOT / "Package.resolved").read_text(encoding="utf-8"))
    return {pin["identity"]: (pin["state"].get("version") or pin["state"].get("revision", "?"), pin["location"]) for pin in data["pins"]}


def pinned() -> dict[str, tuple[str, str]]:
    out = {}
    for line in PINS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            identity, version, location = line.split()
            out[identity] = (version, location)
    return out


def main() -> int:
    now = resolved()
    if sys.argv[1:] == ["--write"]:
        lines = HEADER + [f"{name} {version} {location}" for name, (version, location) in sorted(now.items())]
        PINS.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"check-pins: wrote {len(now)} pins")
        return 0
    pins = pinned()
    problems = [f"{name}: resolved {now[name][0]}, pinned {pins[name][0]}" for name in sorted(now.keys() & pins.keys()) if now[name][0] != pins[name][0]]
    problems += [f"{name}: resolved {now[name][0]}, not pinned" for name in sorted(now.keys() - pins.keys())]
    problems += [f"{name}: pinned {pins[name][0]}, no longer resolved" for name in sorted(pins.keys() - now.keys())]
    for problem in problems:
        print("check-pins:", problem)
    if problems:
        print("check-pins: the Dockerfile would build other versions than the tests ran; see scripts/check-pins.py --write")
        return 1
    print(f"check-pins: {len(now)} packages, all as pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
