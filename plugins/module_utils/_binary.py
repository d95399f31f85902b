# -*- coding: utf-8 -*-
# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The truth about an executable: what its headers say it is, and the Go build info inside.

One reader for ELF, Mach-O (thin and universal, every slice) and PE, used by go_binary_arch,
go_install, go_env_facts and go_toolchain_rebuild. Standard library only (it runs on managed
nodes); when pyelftools is importable, ``inspect(path, detail=True)`` adds ELF detail.

It reads only what it needs: headers, load commands / section tables, notes, the interpreter
string and the build-info region - never the whole file. ``bytes_read`` says how much.

Sources: Go's src/debug/buildinfo/buildinfo.go and runtime/debug/mod.go, src/cmd/link,
file(1)'s readelf.c, LLVM's MachO.h (see docs/go_binary_arch.md).
"""

from __future__ import annotations

import os
import re
import stat
import struct

from ansible_collections.gofleet.golang.plugins.module_utils._errors import GofleetError

try:
    from elftools.elf.elffile import ELFFile  # optional: extra ELF detail, independent oracle
    HAS_PYELFTOOLS = True
except ImportError:  # pragma: no cover - the node may have only the standard library
    ELFFile = None
    HAS_PYELFTOOLS = False


class BinaryError(GofleetError, ValueError):
    """The file is not an executable this reader understands, is truncated, or unreadable."""


# ---------------------------------------------------------------------------------------------
# Go names for machine numbers

# ELF e_machine -> GOARCH; a tuple means (32-bit BE, 32-bit LE, 64-bit BE, 64-bit LE)
ELF_MACHINES = {
    3: "386",
    8: ("mips", "mipsle", "mips64", "mips64le"),
    20: "ppc",
    21: ("ppc64", "ppc64le", "ppc64", "ppc64le"),
    22: "s390x",
    40: "arm",
    43: "sparc64",
    62: "amd64",
    183: "arm64",
    243: "riscv64",
    258: "loong64",
}
ELF_OSABI = {2: "netbsd", 3: "linux", 6: "solaris", 9: "freebsd", 12: "openbsd"}
# (interpreter pattern, goos); the first that matches wins
INTERPRETERS = (
    (re.compile(r"/system/bin/linker(64)?$"), "android"),
    (re.compile(r"/libexec/ld-elf\.so\.1$"), "freebsd"),
    (re.compile(r"/usr/libexec/ld\.elf_so$"), "netbsd"),
    (re.compile(r"/usr/libexec/ld\.so$"), "openbsd"),
    (re.compile(r"/usr/lib/(amd64/)?ld\.so\.1$"), "solaris"),
    (re.compile(r"/lib(32|64|x32)?/(ld-linux[^/]*|ld-musl-[^/]*|ld64\.so\.[12]|ld\.so\.1)$"), "linux"),
)
ELF_NOTE_OS = {b"NetBSD": "netbsd", b"OpenBSD": "openbsd", b"FreeBSD": "freebsd", b"Android": "android"}

MACHO_CPUS = {7: "386", 0x01000007: "amd64", 12: "arm", 0x0100000C: "arm64", 18: "ppc", 0x01000012: "ppc64"}
MACHO_PLATFORMS = {1: "darwin", 2: "ios", 3: "tvos", 4: "watchos", 6: "ios", 7: "ios"}  # 6 catalyst, 7 simulator

PE_MACHINES = {0x8664: "amd64", 0x14C: "386", 0xAA64: "arm64", 0x1C4: "arm", 0x5064: "riscv64",
               0x6264: "loong64"}

BUILDINFO_MAGIC = b"\xff Go buildinf:"
GO_BUILD_ID = re.compile(br'\xff Go build ID: "([^"]+)"\n \xff')
_FIRST_CHUNK = 4096  # Go's linker puts build info at the very start of the data region
_SEARCH_LIMIT = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# reading

class _File(object):
    """Positioned reads with a count of bytes read and clear errors for truncated files."""

    def __init__(self, f, size, base=0):
        self.f = f
        self.size = size
        self.base = base  # a universal Mach-O slice reads relative to its offset
        self.read_bytes = 0

    def at(self, offset, n, what="data"):
        if offset < 0 or n < 0 or self.base + offset + n > self.size:
            raise BinaryError("truncated: %s at offset %d (+%d bytes) lies beyond the end of the file "
                              "(%d bytes)" % (what, self.base + offset, n, self.size))
        self.f.seek(self.base + offset)
        data = self.f.read(n)
        self.read_bytes += len(data)
        if len(data) != n:
            raise BinaryError("truncated: short read of %s at offset %d" % (what, self.base + offset))
        return data

    def upto(self, offset, n):
        """At most n bytes from offset (fewer at the end of the file)."""
        n = max(0, min(n, self.size - self.base - offset))
        return self.at(offset, n) if n else b""

    def check_extent(self, offset, n, what):
        """A part the headers declare must lie inside the file: else the file is truncated."""
        if self.base + offset + n > self.size:
            raise BinaryError("truncated: %s ends at byte %d but the file has only %d bytes (an interrupted "
                              "download or copy?)" % (what, self.base + offset + n, self.size))

    def cstring(self, offset, limit=4096):
        data = self.upto(offset, limit)
        return data.split(b"\0", 1)[0].decode("utf-8", "replace")

    def slice(self, offset):
        s = _File(self.f, self.size, self.base + offset)
        s.read_bytes = 0
        return s


def inspect(path, detail=False):
    """Describe the executable at path (see the module docs of go_binary_arch for every key).

    Raises BinaryError when the file is not an ELF, Mach-O or PE executable, is truncated, or
    cannot be read.
    """
    # One descriptor, opened without blocking (a FIFO swapped in after a stat would hang an open),
    # checked with fstat and read: what is judged is what was opened (links are followed: a go on
    # PATH is often one).
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise BinaryError("cannot read %s: %s" % (path, e.strerror or e))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):  # a FIFO or device would block or never end: never read one
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise BinaryError("%s is a directory" % path)
        raise BinaryError("%s is not a regular file (%s)" % (path, _KINDS.get(stat.S_IFMT(mode), "special file")))
    f = os.fdopen(fd, "rb")
    with f:
        try:
            size = os.fstat(f.fileno()).st_size
            r = _File(f, size)
            magic = r.upto(0, 8)
            if magic[:4] == b"\x7fELF":
                info = _elf(r)
            elif magic[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe"):
                info = _macho(r)
            elif magic[:4] in (b"\xca\xfe\xba\xbe", b"\xca\xfe\xba\xbf"):
                info = _fat(r, magic)
            elif magic[:2] == b"MZ":
                info = _pe(r)
            else:
                raise BinaryError("not an executable: no ELF, Mach-O or PE header (the file starts with %s)"
                                  % (_show(magic) if magic else "nothing: it is empty"))
            if detail:
                info["detail"] = _detail(f, info)
            total = r.read_bytes + sum(s.pop("_read", 0) for s in info.get("slices") or [])
        except OSError as e:
            raise BinaryError("cannot read %s: %s" % (path, e.strerror or e))
        except struct.error as e:
            raise BinaryError("truncated or corrupt header: %s" % e)
    info.update(path=path, size=size, bytes_read=total)
    return info


_KINDS = {stat.S_IFIFO: "a named pipe", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket"}


def _show(data):
    text = data.decode("latin-1")
    if all(32 <= ord(c) < 127 for c in text):
        return repr(text)
    return data.hex()


def _result(fmt, goarch, machine, bits, endian):
    return {
        "format": fmt, "goos": None, "goos_source": None, "goarch": goarch, "machine": machine,
        "bits": bits, "endianness": endian, "linkage": None, "interpreter": None, "stripped": None,
        "is_go": False, "go_version": None, "build_info": None, "build_id": None, "declared": None,
        "findings": [], "universal": False, "slices": [], "goarches": [goarch] if goarch else [],
        "arm_float_abi": None,
    }


# ---------------------------------------------------------------------------------------------
# ELF

def _elf(r):
    ident = r.at(0, 16, "ELF identification")
    cls, data, osabi = ident[4], ident[5], ident[7]
    if cls not in (1, 2) or data not in (1, 2):
        raise BinaryError("corrupt ELF header: class %d, data encoding %d" % (cls, data))
    bits = 32 if cls == 1 else 64
    e = "<" if data == 1 else ">"
    if bits == 64:
        (etype, machine, _v, _entry, phoff, shoff, flags, _eh, phentsize, phnum, shentsize, shnum,
         shstrndx) = struct.unpack(e + "HHIQQQIHHHHHH", r.at(16, 48, "ELF header"))
    else:
        (etype, machine, _v, _entry, phoff, shoff, flags, _eh, phentsize, phnum, shentsize, shnum,
         shstrndx) = struct.unpack(e + "HHIIIIIHHHHHH", r.at(16, 36, "ELF header"))
    goarch = ELF_MACHINES.get(machine)
    if isinstance(goarch, tuple):
        goarch = goarch[(2 if bits == 64 else 0) + (1 if data == 1 else 0)]
    info = _result("elf", goarch, machine, bits, "little" if data == 1 else "big")
    info["elf_type"] = {1: "relocatable", 2: "executable", 3: "shared object", 4: "core"}.get(etype, str(etype))
    if etype not in (2, 3):
        raise BinaryError("an ELF %s file, not an executable" % info["elf_type"])

    segments = []  # (type, flags, offset, vaddr, filesz, memsz)
    if phnum and phentsize:
        table = r.at(phoff, phnum * phentsize, "ELF program headers")
        for i in range(phnum):
            raw = table[i * phentsize:(i + 1) * phentsize]
            if bits == 64:
                ptype, pflags, off, vaddr, _pa, filesz, memsz, _al = struct.unpack(e + "IIQQQQQQ", raw[:56])
            else:
                ptype, off, vaddr, _pa, filesz, memsz, pflags, _al = struct.unpack(e + "IIIIIIII", raw[:32])
            segments.append((ptype, pflags, off, vaddr, filesz, memsz))
            r.check_extent(off, filesz, "ELF segment %d" % i)

    sections = {}  # name -> (type, flags, addr, offset, size)
    has_symtab = False
    if shnum and shentsize and shoff:
        table = r.at(shoff, shnum * shentsize, "ELF section headers")
        rows = []
        for i in range(shnum):
            raw = table[i * shentsize:(i + 1) * shentsize]
            if bits == 64:
                name, stype, sflags, addr, off, size = struct.unpack(e + "IIQQQQ", raw[:40])
            else:
                name, stype, sflags, addr, off, size = struct.unpack(e + "IIIIII", raw[:24])
            rows.append((name, stype, sflags, addr, off, size))
        names = b""
        if shstrndx < len(rows) and rows[shstrndx][1] == 3:
            names = r.upto(rows[shstrndx][4], min(rows[shstrndx][5], 1 << 20))
        for name, stype, sflags, addr, off, size in rows:
            label = names[name:].split(b"\0", 1)[0].decode("utf-8", "replace")
            sections.setdefault(label, (stype, sflags, addr, off, size))
            has_symtab = has_symtab or stype == 2
    info["stripped"] = not (has_symtab or ".debug_info" in sections or ".zdebug_info" in sections)

    # interpreter, linkage (file(1)'s rules), notes
    interp = None
    dynamic = False
    pie = False
    note_os = None
    for ptype, _fl, off, _va, filesz, _mem in segments:
        if ptype == 3:  # PT_INTERP
            interp = r.at(off, min(filesz, 4096), "ELF interpreter").split(b"\0", 1)[0].decode("utf-8", "replace")
        elif ptype == 2:  # PT_DYNAMIC
            dynamic = True
            pie = pie or _elf_dyn_pie(r, off, filesz, bits, e)
        elif ptype == 4 and filesz:  # PT_NOTE
            for owner, ntype, desc in _elf_notes(r.at(off, min(filesz, 1 << 16), "ELF notes"), e):
                if owner == b"Go" and ntype == 4:
                    info["build_id"] = desc.split(b"\0", 1)[0].decode("utf-8", "replace")
                    info["is_go"] = True
                elif owner in ELF_NOTE_OS and note_os is None:
                    note_os = ELF_NOTE_OS[owner]
                elif owner == b"GNU" and ntype == 1 and len(desc) >= 4 and note_os is None:
                    abi = struct.unpack(e + "I", desc[:4])[0]
                    note_os = {0: "linux", 3: "freebsd", 2: "solaris"}.get(abi)
    info["interpreter"] = interp
    if interp:
        info["linkage"] = "dynamic"
    elif dynamic and pie:
        info["linkage"] = "static-pie"
    elif dynamic:
        info["linkage"] = "dynamic"
    else:
        info["linkage"] = "static"

    # evidence of the OS in the headers, strongest first (build info may still override below)
    header_os = None
    if osabi in ELF_OSABI and osabi != 3:
        header_os, source = ELF_OSABI[osabi], "ELF OSABI %d" % osabi
    elif note_os:
        header_os, source = note_os, "ELF note"
    elif interp:
        for pattern, goos in INTERPRETERS:
            if pattern.search(interp):
                header_os, source = goos, "interpreter %s" % interp
                break
    if header_os is None and osabi == 3:
        header_os, source = "linux", "ELF OSABI 3"
    if header_os:
        info["goos"], info["goos_source"] = header_os, source

    if machine == 40:
        info["arm_float_abi"] = "hard" if flags & 0x400 else ("soft" if flags & 0x200 else None)
    info["e_flags"] = flags

    if ".gopclntab" in sections or ".go.buildinfo" in sections:
        info["is_go"] = True
    # build-info region: .go.buildinfo, else the first writable, non-executable PT_LOAD
    region = None
    if ".go.buildinfo" in sections:
        _t, _f, addr, off, size = sections[".go.buildinfo"]
        region = (addr, off, size)
    elif info["is_go"] or not sections:  # Go >= 1.13 names the section; search only Go or section-less files
        for ptype, pflags, off, vaddr, filesz, _mem in segments:
            if ptype == 1 and pflags & 2 and not pflags & 1:
                region = (vaddr, off, filesz)
                break
    loads = [(vaddr, off, filesz) for ptype, _fl, off, vaddr, filesz, _m in segments if ptype == 1]
    _buildinfo(r, info, region, loads)
    _settle_os(info, header_os, "linux")
    return info


def _elf_dyn_pie(r, off, filesz, bits, e):
    entsize = 16 if bits == 64 else 8
    data = r.at(off, min(filesz, 1 << 16), "ELF dynamic section")
    fmt = e + ("qQ" if bits == 64 else "iI")
    for i in range(0, len(data) - entsize + 1, entsize):
        tag, val = struct.unpack(fmt, data[i:i + entsize])
        if tag == 0:
            break
        if tag == 0x6ffffffb and val & 0x08000000:  # DT_FLAGS_1 with DF_1_PIE
            return True
    return False


def _elf_notes(data, e):
    i = 0
    while i + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack(e + "III", data[i:i + 12])
        i += 12
        name = data[i:i + namesz].rstrip(b"\0")
        i += (namesz + 3) & ~3
        desc = data[i:i + descsz]
        i += (descsz + 3) & ~3
        yield name, ntype, desc


# ---------------------------------------------------------------------------------------------
# Mach-O

def _macho(r):
    magic = r.at(0, 4, "Mach-O header")
    e = ">" if magic[:2] == b"\xfe\xed" else "<"
    bits = 64 if magic in (b"\xfe\xed\xfa\xcf", b"\xcf\xfa\xed\xfe") else 32
    cputype, cpusub, filetype, ncmds, sizeofcmds, flags = struct.unpack(e + "iiIIII", r.at(4, 24, "Mach-O header"))
    cputype &= 0xFFFFFFFF
    goarch = MACHO_CPUS.get(cputype)
    info = _result("macho", goarch, cputype, bits, "little" if e == "<" else "big")
    if goarch == "arm64" and cpusub & 0xFF == 2:
        info["cpu_subtype"] = "arm64e"
    info["macho_type"] = {1: "object", 2: "executable", 6: "dylib", 8: "bundle"}.get(filetype, str(filetype))
    if filetype == 1:
        raise BinaryError("a Mach-O object file, not an executable")
    start = 32 if bits == 64 else 28
    cmds = r.at(start, sizeofcmds, "Mach-O load commands")
    segments = []  # (name, vmaddr, fileoff, filesize, maxprot, initprot)
    sections = {}  # name -> (addr, offset, size)
    platform = None
    platform_cmd = None
    dylibs = False
    has_symbols = False
    defined_symbols = None  # from LC_DYSYMTAB: local + external defined symbols (imports do not count)
    i = 0
    for _n in range(ncmds):
        if i + 8 > len(cmds):
            raise BinaryError("truncated: Mach-O load commands end early")
        cmd, cmdsize = struct.unpack(e + "II", cmds[i:i + 8])
        body = cmds[i:i + cmdsize]
        if cmdsize < 8:
            raise BinaryError("corrupt Mach-O load command %d (size %d)" % (_n, cmdsize))
        cmd &= 0x7FFFFFFF  # LC_REQ_DYLD bit
        if cmd in (0x1, 0x19):
            if cmd == 0x19:
                segname, vmaddr, _vs, fileoff, filesize, maxprot, initprot, nsects, _f = struct.unpack(
                    e + "16sQQQQiiII", body[8:72])
                sect_at, sect_size, fmt = 72, 80, e + "16s16sQQI"
            else:
                segname, vmaddr, _vs, fileoff, filesize, maxprot, initprot, nsects, _f = struct.unpack(
                    e + "16sIIIIiiII", body[8:56])
                sect_at, sect_size, fmt = 56, 68, e + "16s16sIII"
            segments.append((segname.rstrip(b"\0"), vmaddr, fileoff, filesize, maxprot, initprot))
            r.check_extent(fileoff, filesize, "Mach-O segment %s" % segname.rstrip(b"\0").decode("latin-1"))
            for k in range(nsects):
                raw = body[sect_at + k * sect_size:sect_at + (k + 1) * sect_size]
                sname, _seg, addr, size, offset = struct.unpack(fmt, raw[:struct.calcsize(fmt)])
                sections.setdefault(sname.rstrip(b"\0").decode("latin-1"), (addr, offset, size))
        elif cmd == 0x32 and platform is None:  # LC_BUILD_VERSION
            platform = struct.unpack(e + "I", body[8:12])[0]
        elif cmd in (0x24, 0x25, 0x2F, 0x30) and platform is None:  # LC_VERSION_MIN_* (older linkers)
            platform = {0x24: 1, 0x25: 2, 0x2F: 3, 0x30: 4}[cmd]
            platform_cmd = {0x24: "LC_VERSION_MIN_MACOSX", 0x25: "LC_VERSION_MIN_IPHONEOS", 0x2F: "LC_VERSION_MIN_TVOS",
                            0x30: "LC_VERSION_MIN_WATCHOS"}[cmd]
        elif cmd == 0xE:  # LC_LOAD_DYLINKER
            off = struct.unpack(e + "I", body[8:12])[0]
            info["interpreter"] = body[off:].split(b"\0", 1)[0].decode("utf-8", "replace")
        elif cmd in (0xC, 0x18, 0x1F):  # LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB
            dylibs = True
        elif cmd == 0x2:  # LC_SYMTAB
            has_symbols = struct.unpack(e + "I", body[12:16])[0] > 0
        elif cmd == 0xB and len(body) >= 24:  # LC_DYSYMTAB: ilocalsym, nlocalsym, iextdefsym, nextdefsym
            nlocal, _iext, nextdef = struct.unpack(e + "III", body[12:24])
            defined_symbols = nlocal + nextdef
        i += cmdsize
    info["linkage"] = "dynamic" if (dylibs or info["interpreter"]) else "static"
    if defined_symbols is not None:  # `-s` (strip) keeps the undefined (imported) symbols in LC_SYMTAB
        has_symbols = defined_symbols > 0
    info["stripped"] = not (has_symbols or "__debug_info" in sections or "__zdebug_info" in sections)
    header_os, source = None, None
    if platform is not None:
        header_os = MACHO_PLATFORMS.get(platform)
        source = platform_cmd and "Mach-O %s" % platform_cmd or "Mach-O platform %d" % platform
    if "__gopclntab" in sections or "__go_buildinfo" in sections:
        info["is_go"] = True
    text = sections.get("__text")
    if text:
        _go_build_id(r, info, text[1])
    region = None
    if "__go_buildinfo" in sections:
        region = sections["__go_buildinfo"]
    elif info["is_go"]:
        for name, vmaddr, fileoff, filesize, maxprot, initprot in segments:
            if name == b"__DATA" or (maxprot == 3 and initprot == 3):
                region = (vmaddr, fileoff, filesize)
                break
    loads = [(vmaddr, fileoff, filesize) for _n, vmaddr, fileoff, filesize, _m, _i in segments if filesize]
    _buildinfo(r, info, region, loads)
    if header_os:
        info["goos"], info["goos_source"] = header_os, source
    _settle_os(info, header_os, "darwin")
    return info


def _fat(r, magic):
    nfat = struct.unpack(">I", r.at(4, 4, "universal header"))[0]
    if magic[:4] == b"\xca\xfe\xba\xbe" and nfat > 30:
        raise BinaryError("not an executable: a Java class file (magic CAFEBABE, version %d)" % nfat)
    if nfat == 0:
        raise BinaryError("an empty universal Mach-O (no slices)")
    wide = magic[:4] == b"\xca\xfe\xba\xbf"
    entsize = 32 if wide else 20
    table = r.at(8, nfat * entsize, "universal slice table")
    slices = []
    for k in range(nfat):
        raw = table[k * entsize:(k + 1) * entsize]
        if wide:
            cputype, _sub, offset, size, _al, _res = struct.unpack(">iiQQII", raw)
        else:
            cputype, _sub, offset, size, _al = struct.unpack(">iiIII", raw)
        if offset + size > r.size:
            raise BinaryError("truncated: universal slice %d (offset %d, %d bytes) lies beyond the end of "
                              "the file" % (k, offset, size))
        sub = r.slice(offset)
        one = _macho(sub)
        one.update(offset=offset, size=size, _read=sub.read_bytes)
        slices.append(one)
    info = dict(slices[0])
    info.pop("_read", None)
    info.pop("offset", None)
    info.update(universal=True, slices=slices, goarches=[s["goarch"] for s in slices])
    return info


# ---------------------------------------------------------------------------------------------
# PE

def _pe(r):
    lfanew = struct.unpack("<I", r.at(0x3C, 4, "DOS header"))[0]
    if r.at(lfanew, 4, "PE signature") != b"PE\0\0":
        raise BinaryError("not an executable: an MZ (DOS) header without a PE signature")
    machine, nsect, _ts, symptr, nsyms, optsize, chars = struct.unpack("<HHIIIHH", r.at(lfanew + 4, 20, "COFF header"))
    opt = r.at(lfanew + 24, optsize, "PE optional header")
    if len(opt) < 2:
        raise BinaryError("a PE object without an optional header, not an executable")
    omagic = struct.unpack("<H", opt[:2])[0]
    if omagic == 0x20B:
        bits, image_base = 64, struct.unpack("<Q", opt[24:32])[0]
        ddir = 112
    else:
        bits, image_base = 32, struct.unpack("<I", opt[28:32])[0]
        ddir = 96
    goarch = PE_MACHINES.get(machine)
    info = _result("pe", goarch, machine, bits, "little")
    info["pe_type"] = "dll" if chars & 0x2000 else "executable"
    imports = 0
    if len(opt) >= ddir + 16:
        imports = struct.unpack("<II", opt[ddir + 8:ddir + 16])[1]  # import table size
    info["linkage"] = "dynamic" if imports else "static"
    info["stripped"] = not (symptr and nsyms)
    table = r.at(lfanew + 24 + optsize, nsect * 40, "PE section table")
    sections = {}
    rows = []
    for k in range(nsect):
        raw = table[k * 40:(k + 1) * 40]
        name = raw[:8].rstrip(b"\0").decode("latin-1")
        vsize, vaddr, rawsize, rawptr = struct.unpack("<IIII", raw[8:24])
        schars = struct.unpack("<I", raw[36:40])[0]
        rows.append((name, vsize, vaddr, rawsize, rawptr, schars))
        r.check_extent(rawptr, rawsize, "PE section %s" % name)
        sections.setdefault(name, (image_base + vaddr, rawptr, min(vsize, rawsize) if vsize else rawsize))
    if ".text" in sections:
        _go_build_id(r, info, sections[".text"][1])
    region = None
    for name, vsize, vaddr, rawsize, rawptr, schars in rows if info["is_go"] else ():
        if vaddr and (vsize or rawsize) and schars & ~0x00600000 == 0xC0000040:
            region = (image_base + vaddr, rawptr, min(vsize, rawsize) if vsize else rawsize)
            break
    loads = [(image_base + vaddr, rawptr, min(vsize, rawsize) if vsize else rawsize)
             for _n, vsize, vaddr, rawsize, rawptr, _c in rows]
    _buildinfo(r, info, region, loads)
    info["goos"], info["goos_source"] = "windows", "PE format"
    _settle_os(info, "windows", "windows")
    return info


# ---------------------------------------------------------------------------------------------
# Go build info

def _go_build_id(r, info, offset):
    m = GO_BUILD_ID.search(r.upto(offset, 256))
    if m:
        info["build_id"] = m.group(1).decode("utf-8", "replace")
        info["is_go"] = True


def _buildinfo(r, info, region, loads):
    """Find '\\xff Go buildinf:' at a 16-aligned address of the region and decode it."""
    if not region:
        return
    addr, offset, size = region
    size = min(size, _SEARCH_LIMIT)
    pos = 0
    header = None
    carry = b""
    step = _FIRST_CHUNK
    while pos < size and header is None:
        step = min(step, size - pos)
        chunk = carry + r.upto(offset + pos, step)
        base = pos - len(carry)
        if len(chunk) <= len(carry):
            break
        start = 0
        while True:
            k = chunk.find(BUILDINFO_MAGIC, start)
            if k < 0:
                break
            if (addr + base + k) % 16 == 0:
                if len(chunk) - k < 32:
                    chunk += r.upto(offset + base + len(chunk), 32)
                header = (base + k, chunk[k:k + 32])
                break
            start = k + 1
        pos += step
        step *= 2
        carry = chunk[-31:]
    if header is None or len(header[1]) < 32:
        return
    at, head = header
    ptrsize, flags = head[14], head[15]
    info["is_go"] = True
    if flags & 2:  # Go >= 1.18: two uvarint-prefixed strings after the header
        cursor = offset + at + 32
        version, cursor = _uvarint_string(r, cursor)
        modinfo, cursor = _uvarint_string(r, cursor)
    else:  # Go 1.13-1.17: pointers to string headers
        if ptrsize not in (4, 8):
            return
        e = ">" if flags & 1 else "<"
        fmt = e + ("Q" if ptrsize == 8 else "I")
        vptr = struct.unpack(fmt, head[16:16 + ptrsize])[0]
        mptr = struct.unpack(fmt, head[16 + ptrsize:16 + 2 * ptrsize])[0]
        version = _go_string(r, loads, vptr, ptrsize, fmt)
        modinfo = _go_string(r, loads, mptr, ptrsize, fmt)
    version = version.decode("utf-8", "replace") if version else ""
    if not version:
        return
    info["go_version"] = version
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        modinfo = modinfo[16:-16]
    info["build_info"] = parse_modinfo(modinfo.decode("utf-8", "replace"))


def _uvarint_string(r, cursor):
    n = shift = 0
    for _i in range(10):
        b = r.at(cursor, 1, "build info")[0]
        cursor += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    if n > 1 << 24:
        raise BinaryError("corrupt Go build info (a string of %d bytes)" % n)
    return r.at(cursor, n, "build info"), cursor + n


def _vaddr_to_offset(loads, vaddr, n):
    for base, off, filesz in loads:
        if base <= vaddr and vaddr + n <= base + filesz:
            return off + (vaddr - base)
    return None


def _go_string(r, loads, ptr, ptrsize, fmt):
    where = _vaddr_to_offset(loads, ptr, 2 * ptrsize)
    if where is None:
        return b""
    data = r.at(where, 2 * ptrsize, "Go string header")
    dptr = struct.unpack(fmt, data[:ptrsize])[0]
    n = struct.unpack(fmt, data[ptrsize:])[0]
    if n == 0 or n > 1 << 24:
        return b""
    where = _vaddr_to_offset(loads, dptr, n)
    return r.at(where, n, "Go string") if where is not None else b""


_GO_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
               "\\": "\\", "'": "'", '"': '"'}


def go_unquote(text):
    """Undo Go's strconv.Quote (double quotes) or a raw `backquoted` string."""
    if len(text) >= 2 and text[0] == text[-1] == "`":
        return text[1:-1]
    if not (len(text) >= 2 and text[0] == text[-1] == '"'):
        return text
    body, out, i = text[1:-1], bytearray(), 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8")
            i += 1
            continue
        nxt = body[i + 1:i + 2]
        if nxt in _GO_ESCAPES:
            out += _GO_ESCAPES[nxt].encode()
            i += 2
        elif nxt == "x":
            out.append(int(body[i + 2:i + 4], 16))
            i += 4
        elif nxt in ("u", "U"):
            width = 4 if nxt == "u" else 8
            out += chr(int(body[i + 2:i + 2 + width], 16)).encode("utf-8")
            i += 2 + width
        elif nxt.isdigit():
            out.append(int(body[i + 1:i + 4], 8))
            i += 4
        else:
            out += c.encode()
            i += 1
    return out.decode("utf-8", "replace")


def parse_modinfo(text):
    """runtime/debug.ParseBuildInfo: path, main module, deps with replacements, settings."""
    bi = {"path": None, "main": None, "deps": [], "settings": {}}
    last = None
    for line in text.split("\n"):
        fields = line.split("\t")
        kind = fields[0]
        if kind == "path" and len(fields) > 1:
            bi["path"] = fields[1]
        elif kind in ("mod", "dep") and len(fields) >= 3:
            mod = {"path": fields[1], "version": fields[2], "sum": fields[3] if len(fields) > 3 else "",
                   "replace": None}
            if kind == "mod":
                bi["main"] = mod
            else:
                bi["deps"].append(mod)
            last = mod
        elif kind == "=>" and len(fields) >= 3 and last is not None:
            last["replace"] = {"path": fields[1], "version": fields[2], "sum": fields[3] if len(fields) > 3 else ""}
        elif kind == "build" and len(fields) > 1:
            setting = "\t".join(fields[1:])
            key, sep, value = setting.partition("=")
            if key.startswith('"'):  # a quoted key (Go quotes keys that contain '=' or spaces)
                m = re.match(r'^("(?:[^"\\]|\\.)*")=(.*)$', setting)
                if m:
                    key, sep, value = go_unquote(m.group(1)), "=", m.group(2)
            if sep:
                bi["settings"][key] = go_unquote(value)
    return bi


def _settle_os(info, header_os, fallback):
    """GOOS by the order of evidence; declared build settings vs the headers become findings."""
    settings = (info.get("build_info") or {}).get("settings") or {}
    declared = {k.lower(): settings[k] for k in ("GOOS", "GOARCH") if k in settings}
    info["declared"] = declared or None
    if info["format"] == "elf" and declared.get("goos") and not (header_os and header_os != declared["goos"]):
        info["goos"], info["goos_source"] = declared["goos"], "build info"
    if not info["goos"]:
        info["goos"], info["goos_source"] = fallback, "assumed"
    if declared.get("goarch") and info["goarch"] and declared["goarch"] != info["goarch"]:
        info["findings"].append({
            "code": "DECLARED_ARCH_MISMATCH",
            "message": "the build settings say GOARCH=%s but the %s header says %s"
                       % (declared["goarch"], info["format"].upper().replace("MACHO", "Mach-O"), info["goarch"])})
    if declared.get("goos") and info["goos"] and declared["goos"] != info["goos"]:
        info["findings"].append({
            "code": "DECLARED_OS_MISMATCH",
            "message": "the build settings say GOOS=%s but the file is a %s executable (%s)"
                       % (declared["goos"], info["goos"], info["goos_source"])})
    if info["goarch"] is None:
        info["findings"].append({"code": "UNKNOWN_MACHINE",
                                 "message": "machine type %s has no Go architecture name" % info["machine"]})


# ---------------------------------------------------------------------------------------------
# optional detail through pyelftools

def _detail(f, info):
    if info["format"] != "elf":
        return {}
    if not HAS_PYELFTOOLS:
        return {"error": "pyelftools is not installed on this node"}
    out = {"go_build_id_note": None, "arm_vfp_args": None, "debug_info": False}
    f.seek(0)
    try:
        elf = ELFFile(f)
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_NOTE":
                for note in seg.iter_notes():
                    if note["n_name"] == "Go" and note["n_type"] in (4, "NT_GNU_GOLD_VERSION"):
                        desc = note["n_desc"]
                        out["go_build_id_note"] = desc if isinstance(desc, str) else desc.decode("utf-8", "replace")
        out["debug_info"] = elf.has_dwarf_info()
        attrs = elf.get_section_by_name(".ARM.attributes")
        if attrs is not None:
            for sub in attrs.iter_subsections():
                for subsub in sub.iter_subsubsections():
                    for attr in subsub.iter_attributes():
                        if attr.tag == "TAG_ABI_VFP_ARGS":
                            out["arm_vfp_args"] = attr.value
    except Exception as e:  # pylint: disable=broad-exception-caught  # detail is best effort
        out["error"] = "pyelftools: %s" % e
    return out
