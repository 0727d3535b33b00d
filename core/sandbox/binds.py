"""What a sandboxed command can see of the machine, all read-only: the toolchain.

`/usr` and the `/bin`, `/sbin`, `/lib*` folders (or their merged-usr symlinks); a short
list of `/etc` files that programs need to start, resolve names and speak TLS, and
nothing else of `/etc` (no shadow, gshadow, sudoers, ssh host keys, ssl/private, npmrc,
pip.conf, gitconfig); the Python interpreter's own prefixes (a venv, a pyenv build) and
the folders on PATH, each bound on its own so `$HOME` is never bound as a whole.
"""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

TOP_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

ETC_FILES = (
    "/etc/passwd",  # user names (the password hashes are in /etc/shadow, never bound)
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/locale.alias",
    "/etc/alternatives",  # Debian's command symlinks (awk, editor, java...)
    "/etc/ssl/certs",
    "/etc/ssl/openssl.cnf",
    "/etc/ca-certificates",
    "/etc/ca-certificates.conf",
    "/etc/pki/tls/certs",
    "/etc/pki/ca-trust",
    "/etc/mime.types",
    "/etc/magic",
    "/etc/magic.mime",
    "/etc/protocols",
    "/etc/services",
    "/etc/os-release",
    "/etc/terminfo",
)
ETC_GLOBS = ("/etc/python3*",)  # Debian's sitecustomize for the system Python


def etc_paths() -> list[str]:
    """The `/etc` entries of the minimal set that exist on this machine."""
    found = [p for p in ETC_FILES if os.path.lexists(p)]
    for pattern in ETC_GLOBS:
        found += sorted(glob.glob(pattern))
    return found


def _covered(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _pyenv_root(entry: str) -> str | None:
    """The pyenv root of a `.../shims` PATH entry: its shims need it to find a Python."""
    root = os.path.dirname(entry)
    if os.path.basename(entry) == "shims" and os.path.isfile(f"{root}/libexec/pyenv"):
        return root
    return None


def toolchain_dirs(env: Mapping[str, str], workspace: Path) -> list[str]:
    """Folders bound read-only beyond `/usr` and friends: the interpreter's prefixes, the
    PATH entries that exist (a pyenv root for its shims), never one inside the workspace
    (bound read-write already) and never one that holds the home folder itself."""
    home = os.path.realpath(env.get("HOME", "") or "/nonexistent")
    wanted: list[str] = []
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        wanted.append(prefix)
    for entry in env.get("PATH", "").split(os.pathsep):
        if entry and os.path.isabs(entry):
            wanted.append(entry)
            root = _pyenv_root(entry)
            if root is not None:
                wanted.append(root)
    result: list[str] = []
    ws = str(workspace)
    for path in wanted:
        real = os.path.realpath(path)
        if not os.path.isdir(real) or real in ("/", "/tmp", "/var/tmp"):
            continue
        if _covered(real, TOP_DIRS) or _covered(real, [ws]) or _covered(home, [real]):
            continue
        if _covered(real, result):
            continue
        result = [r for r in result if not _covered(r, [real])] + [real]
    return result
