# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copies of cached GOROOTs and install roots for tests, made of hard links (a 250 MB tree in a
fraction of a second), and the digest that proves a test never wrote through a link.

A hard-linked copy is safe where the code under test only renames and removes folders of a tree
and writes new files (go_install, go_toolchain_rebuild): a file rewritten in place would change
the cached original too, which `tree_digest` before and after catches."""

from __future__ import annotations

import os
import subprocess


def linked_copy(src: str, dst: str) -> str:
    """dst: a copy of the tree src made of hard links."""
    subprocess.run(["cp", "-al", src, dst], check=True)
    return dst


def replace_file(path: str, text: str) -> None:
    """Give a hard-linked copy its own version of one file (the original keeps its own)."""
    os.unlink(path)
    with open(path, "w") as f:
        f.write(text)


def tree_digest(root: str) -> list:
    """(path, size, mtime) of every file under root, in a stable order."""
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            st = os.lstat(os.path.join(d, f))
            out.append((os.path.relpath(os.path.join(d, f), root), st.st_size, st.st_mtime_ns))
    return out
