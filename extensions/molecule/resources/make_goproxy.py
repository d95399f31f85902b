# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write a tiny Go module proxy (GOPROXY=file://...) holding one tool module, for the
scenarios' `go_tools` (the hosts have no network to proxy.golang.org).

    make_goproxy.py DEST    -> DEST/example.com/gofleet/hello/@v/{list,v1.0.0.info,.mod,.zip}, v1.1.0 too
"""

from __future__ import annotations

import json
import os
import sys
import zipfile

MODULE = "example.com/gofleet/hello"
VERSIONS = ("v1.0.0", "v1.1.0")
GO_MOD = "module %s\n\ngo 1.18\n" % MODULE
MAIN = """package main

import (
\t"os"
\t"runtime"
)

func main() {
\tos.Stdout.WriteString("hello %s " + runtime.GOOS + "/" + runtime.GOARCH + "\\n")
}
"""


def write(dest):
    vdir = os.path.join(dest, MODULE, "@v")
    os.makedirs(vdir, exist_ok=True)
    for version in VERSIONS:
        with open(os.path.join(vdir, version + ".info"), "w") as f:
            json.dump({"Version": version, "Time": "2026-01-01T00:00:00Z"}, f)
        with open(os.path.join(vdir, version + ".mod"), "w") as f:
            f.write(GO_MOD)
        prefix = "%s@%s/" % (MODULE, version)
        with zipfile.ZipFile(os.path.join(vdir, version + ".zip"), "w") as z:
            for name, text in (("go.mod", GO_MOD), ("main.go", MAIN % version)):
                info = zipfile.ZipInfo(prefix + name, date_time=(2026, 1, 1, 0, 0, 0))
                z.writestr(info, text)
    with open(os.path.join(vdir, "list"), "w") as f:
        f.write("\n".join(VERSIONS) + "\n")
    return dest


if __name__ == "__main__":
    print(write(sys.argv[1]))
