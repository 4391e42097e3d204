"""What the tests need from the system besides Python packages, checked with the standard library only
(it runs before the virtualenv exists): PostgreSQL with pgAudit (tests/pgserver.py finds it) and Java 17+
for local Spark; Chromium (the HTML report's browser tests), nftables and iproute2 (containment plans
applied in a network namespace), unixODBC with psqlODBC (the attacker's ODBC sessions replayed).
`python3 -m tests.sysdeps` prints one line per missing piece, `<key>\\t<why>`, and exits 1;
`.ci/system-deps` (called by `make test` and `.ci/run`) installs the Debian packages for those keys.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.pgserver import find_pg

JAVA_MIN = 17


def java_problem() -> str | None:
    """Why local Spark cannot start here (no Java 17+), or None."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home, "bin", "java")) if home else shutil.which("java")
    if not java or not Path(java).exists():
        return "no `java` on PATH (nor JAVA_HOME)"
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    except OSError as exc:
        return f"{java} does not run: {exc}"
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = (int(m.group(2) or 0) if m.group(1) == "1" else int(m.group(1))) if m else 0
    return None if major >= JAVA_MIN else f"{java} is Java {major or '?'}; Spark needs {JAVA_MIN} or newer"


def missing() -> dict[str, str]:
    out = {}
    bindir, why = find_pg()
    if bindir is None:
        out["pg"] = why
    java = java_problem()
    if java:
        out["java"] = java
    for key, command in (("chromium", "chromium"), ("nft", "nft"), ("ip", "ip")):
        if not (shutil.which(command) or Path("/usr/sbin", command).exists()):
            out[key] = f"no `{command}` on PATH"
    if odbc_problem():
        out["odbc"] = str(odbc_problem())
    return out


def odbc_problem() -> str | None:
    """Why the ODBC tests cannot connect here (unixODBC with the psqlODBC driver: the attacker's ODBC sessions
    are compared with a real server's lines), or None."""
    if not shutil.which("odbcinst"):
        return "no unixODBC (`odbcinst`)"
    drivers = subprocess.run(["odbcinst", "-q", "-d"], capture_output=True, text=True).stdout
    return None if "PostgreSQL Unicode" in drivers else "no psqlODBC driver (PostgreSQL Unicode) registered"


def main() -> int:
    gaps = missing()
    for key, why in gaps.items():
        print(f"{key}\t{why}")
    return 1 if gaps else 0


if __name__ == "__main__":
    sys.exit(main())
