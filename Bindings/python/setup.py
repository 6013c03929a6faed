"""Builds the nnrt wheel: the pure-Python ctypes package plus a self-contained libnnrt.

Everything static is in pyproject.toml; this file adds what a wheel of a ctypes binding needs:

- the version, read from ``Include/nnrt.h`` of the nnrt checkout (NNRT_VERSION_MAJOR/_MINOR/_PATCH;
  from PKG-INFO when building from an sdist), written into the package as ``nnrt/_version.py``;
- the library, bundled as ``nnrt/libnnrt.so``. It comes from, in order: the file named by the
  ``NNRT_LIBRARY`` environment variable; ``build/lib/libnnrt.so`` of the checkout; or, when the
  checkout has none, ``scripts/build.sh --lib`` is run to build it (a few minutes);
- the shared libraries it needs that a Linux machine may lack (libprotobuf-c, libpng16,
  libjpeg-turbo: every dependency outside the manylinux policy's list of system libraries), copied
  into ``nnrt.libs/`` under names made unique by a hash of their contents (as auditwheel does), with
  the references between them and libnnrt rewritten, RUNPATHs set to find them there
  (``$ORIGIN/../nnrt.libs``, ``$ORIGIN``), and the Debian copyright file of each package beside them
  (``nnrt.libs/licenses/``). This needs ``patchelf`` and ``readelf`` (Debian: patchelf, binutils);
- the wheel's tag, ``py3-none-<platform>``: the code is pure Python for every CPython 3.9+, the
  library is for one platform. The platform is the oldest ``manylinux_2_N`` policy whose symbol
  versions (glibc, libstdc++, libgcc, zlib) cover what the bundled files require, else
  ``linux_<arch>``.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py as _build_py

try:  # setuptools >= 70.1 has bdist_wheel; older ones get it from the wheel package
    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:  # pragma: no cover
    from wheel.bdist_wheel import bdist_wheel as _bdist_wheel  # type: ignore

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent.parent if (HERE.parent.parent / "Include" / "nnrt.h").is_file() else None
LIBRARY = "libnnrt.so"
LIBS_DIR = "nnrt.libs"

# Libraries every manylinux system provides (auditwheel's manylinux policy list), and the dynamic
# loader: these are never bundled.
SYSTEM_LIBRARIES = {
    "libc.so.6", "libm.so.6", "libdl.so.2", "librt.so.1", "libpthread.so.0", "libutil.so.1",
    "libresolv.so.2", "libnsl.so.1", "libanl.so.1", "libmvec.so.1", "libgcc_s.so.1",
    "libstdc++.so.6", "libatomic.so.1", "libz.so.1", "libexpat.so.1", "libGL.so.1", "libX11.so.6",
    "libXext.so.6", "libXrender.so.1", "libICE.so.6", "libSM.so.6", "libglib-2.0.so.0",
    "libgobject-2.0.so.0", "libgthread-2.0.so.0",
}
LOADER = re.compile(r"^ld-linux[-\w.]*\.so\.\d+$")

# The newest symbol version each manylinux policy allows (auditwheel's policy, x86_64), oldest
# policy first. A wheel gets the first policy that covers every version its files need.
MANYLINUX_POLICIES: List[Tuple[str, Dict[str, str]]] = [
    ("manylinux_2_17", {"GLIBC": "2.17", "GLIBCXX": "3.4.19", "CXXABI": "1.3.7", "GCC": "4.8.0", "ZLIB": "1.2.5.2"}),
    ("manylinux_2_24", {"GLIBC": "2.24", "GLIBCXX": "3.4.22", "CXXABI": "1.3.10", "GCC": "4.8.0", "ZLIB": "1.2.5.2"}),
    ("manylinux_2_27", {"GLIBC": "2.27", "GLIBCXX": "3.4.24", "CXXABI": "1.3.11", "GCC": "7.0.0", "ZLIB": "1.2.9"}),
    ("manylinux_2_28", {"GLIBC": "2.28", "GLIBCXX": "3.4.24", "CXXABI": "1.3.11", "GCC": "7.0.0", "ZLIB": "1.2.9"}),
    ("manylinux_2_31", {"GLIBC": "2.31", "GLIBCXX": "3.4.28", "CXXABI": "1.3.12", "GCC": "7.0.0", "ZLIB": "1.2.9"}),
    ("manylinux_2_34", {"GLIBC": "2.34", "GLIBCXX": "3.4.29", "CXXABI": "1.3.13", "GCC": "7.0.0", "ZLIB": "1.2.9"}),
    ("manylinux_2_35", {"GLIBC": "2.35", "GLIBCXX": "3.4.30", "CXXABI": "1.3.13", "GCC": "12.0.0", "ZLIB": "1.2.9"}),
    ("manylinux_2_36", {"GLIBC": "2.36", "GLIBCXX": "3.4.30", "CXXABI": "1.3.13", "GCC": "12.0.0", "ZLIB": "1.2.9"}),
    ("manylinux_2_38", {"GLIBC": "2.38", "GLIBCXX": "3.4.30", "CXXABI": "1.3.13", "GCC": "12.0.0", "ZLIB": "1.2.12"}),
    ("manylinux_2_39", {"GLIBC": "2.39", "GLIBCXX": "3.4.33", "CXXABI": "1.3.15", "GCC": "14.0.0", "ZLIB": "1.2.12"}),
]


class BuildError(Exception):
    """A wheel build that cannot go on; the message says why and what to do."""


def fail(message: str) -> "BuildError":
    return BuildError(f"nnrt wheel: {message}")


# --- Version ---------------------------------------------------------------------------------

def read_version() -> str:
    """``MAJOR.MINOR.PATCH`` from Include/nnrt.h of the checkout, or PKG-INFO of an sdist."""
    if CHECKOUT is not None:
        header = (CHECKOUT / "Include" / "nnrt.h").read_text(encoding="utf-8")
        parts = []
        for field in ("MAJOR", "MINOR", "PATCH"):
            match = re.search(rf"^#define NNRT_VERSION_{field} (\d+)$", header, re.MULTILINE)
            if match is None:
                raise fail(f"Include/nnrt.h defines no NNRT_VERSION_{field}")
            parts.append(match.group(1))
        return ".".join(parts)
    pkg_info = HERE / "PKG-INFO"
    if pkg_info.is_file():
        match = re.search(r"^Version: (\S+)$", pkg_info.read_text(encoding="utf-8"), re.MULTILINE)
        if match:
            return match.group(1)
    raise fail(f"cannot tell the version: {HERE} is neither in an nnrt checkout (Include/nnrt.h) nor an sdist")


VERSION = read_version()


# --- Tools -----------------------------------------------------------------------------------

def run(*command: str) -> str:
    try:
        result = subprocess.run(command, check=False, capture_output=True, text=True)
    except FileNotFoundError:
        hint = " (Debian: apt-get install patchelf)" if command[0] == "patchelf" else ""
        raise fail(f"'{command[0]}' is not installed{hint}; it is needed to bundle libnnrt's libraries") from None
    if result.returncode != 0:
        raise fail(f"'{' '.join(command)}' failed (status {result.returncode}): {result.stderr.strip()}")
    return result.stdout


def needed(path: Path) -> List[str]:
    """The DT_NEEDED entries of an ELF file."""
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run("readelf", "-d", "-W", str(path)))


def resolved_dependencies(library: Path) -> Dict[str, Path]:
    """Every shared library ``library`` loads (directly or not), by name, as the loader finds
    them on this machine (``ldd``)."""
    found: Dict[str, Path] = {}
    for line in run("ldd", str(library)).splitlines():
        match = re.match(r"\s*(\S+) => (.*?) \(0x[0-9a-f]+\)$", line)
        if not match:
            continue
        name, where = match.groups()
        if where == "not found":
            raise fail(f"{library} needs {name}, which is not installed here; install it and build again")
        found[name] = Path(where)
    return found


def version_needs(path: Path) -> Dict[str, List[str]]:
    """The symbol versions an ELF file requires, by prefix: ``{"GLIBC": ["2.2.5", "2.34"], ...}``."""
    result: Dict[str, List[str]] = {}
    for name in re.findall(r"Name: (\S+)\s+Flags:", run("readelf", "-V", "-W", str(path))):
        prefix, _, number = name.partition("_")
        result.setdefault(prefix, []).append(number)
    return result


def _numbers(version: str) -> Optional[Tuple[int, ...]]:
    return tuple(int(part) for part in version.split(".")) if re.fullmatch(r"\d+(\.\d+)*", version) else None


def platform_tag(files: List[Path]) -> str:
    """The wheel platform for these ELF files: the oldest manylinux policy that covers them."""
    arch = platform.machine()
    fallback = f"linux_{arch}"
    if arch != "x86_64" or not sys.platform.startswith("linux"):
        return fallback
    bundled = {path.name for path in files}
    required: Dict[str, Tuple[int, ...]] = {}
    for path in files:
        for name in needed(path):
            if name not in SYSTEM_LIBRARIES and not LOADER.match(name) and name not in bundled:
                return fallback  # a dependency that no policy allows and the wheel does not carry
        for prefix, versions in version_needs(path).items():
            for version in versions:
                numbers = _numbers(version)
                if numbers is None:
                    if version == "PRIVATE":
                        return fallback
                    continue  # e.g. CXXABI_FLOAT128, CXXABI_TM_1: allowed by every policy here
                if prefix in ("GLIBC", "GLIBCXX", "CXXABI", "GCC", "ZLIB"):
                    required[prefix] = max(required.get(prefix, ()), numbers)
    for name, limits in MANYLINUX_POLICIES:
        if all((_numbers(limits[prefix]) or ()) >= numbers for prefix, numbers in required.items()):
            return f"{name}_{arch}"
    return fallback


def unique_name(source: Path, soname: str) -> str:
    """``libpng16.so.16`` -> ``libpng16-1a2b3c4d.so.16`` (hash of the file: no clash with the
    host's own copy of the library)."""
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:8]
    stem, _, rest = soname.partition(".so")
    return f"{stem}-{digest}.so{rest}"


def copyright_file(path: Path) -> Optional[Path]:
    """The Debian copyright file of the package that installed ``path``, if dpkg knows it."""
    try:
        result = subprocess.run(["dpkg", "-S", str(path.resolve())], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    if result.returncode != 0 or ":" not in result.stdout:
        return None
    package = result.stdout.split(":", 1)[0].strip()
    candidate = Path("/usr/share/doc") / package / "copyright"
    return candidate if candidate.is_file() else None


# --- The library -----------------------------------------------------------------------------

def find_library() -> Path:
    explicit = os.environ.get("NNRT_LIBRARY")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise fail(f"NNRT_LIBRARY is set to {explicit}, which is not a file")
        return path
    if CHECKOUT is None:
        raise fail("not building from an nnrt checkout: set NNRT_LIBRARY to the libnnrt.so to bundle")
    built = CHECKOUT / "build" / "lib" / LIBRARY
    if not built.is_file():
        script = CHECKOUT / "scripts" / "build.sh"
        print(f"nnrt wheel: {built} does not exist: building it with {script} --lib (a few minutes)", flush=True)
        status = subprocess.run([str(script), "--lib"], cwd=CHECKOUT, check=False).returncode
        if status != 0 or not built.is_file():
            raise fail(f"{script} --lib failed (status {status}); see its output above")
    return built


def check_library_version(path: Path) -> None:
    """The library must be the version this package is, so the wheel's name does not lie."""
    try:
        library = ctypes.CDLL(str(path.resolve()))
        function = library.nnrt_version_string
    except (OSError, AttributeError) as error:
        raise fail(f"{path} is not a loadable libnnrt: {error}") from None
    function.restype = ctypes.c_char_p
    found = (function() or b"").decode("utf-8", errors="replace")
    if found != VERSION:
        raise fail(f"{path} is libnnrt {found}, but this package is {VERSION}: rebuild the library "
                   "(scripts/build.sh --lib) or point NNRT_LIBRARY at the matching one")


def bundle(library: Path, package_dir: Path, libs_dir: Path) -> List[Path]:
    """Copies ``library`` into ``package_dir`` and the libraries it needs beyond the system ones
    into ``libs_dir``, wired together with patchelf. Returns every ELF file written."""
    if libs_dir.exists():
        shutil.rmtree(libs_dir)  # no stale copies from an earlier build
    target = package_dir / LIBRARY
    shutil.copyfile(library, target)
    os.chmod(target, 0o755)
    dependencies = resolved_dependencies(library)
    # Which libraries to bundle: the non-system libraries reachable from libnnrt.
    pending: List[str] = list(needed(library))
    chosen: Dict[str, Path] = {}
    while pending:
        name = pending.pop()
        if name in chosen or name in SYSTEM_LIBRARIES or LOADER.match(name):
            continue
        if name not in dependencies:
            raise fail(f"{library} needs {name}, which ldd did not resolve")
        chosen[name] = dependencies[name]
        pending.extend(needed(dependencies[name]))
    written = [target]
    renames = {name: unique_name(path, name) for name, path in chosen.items()}
    if chosen:
        (libs_dir / "licenses").mkdir(parents=True)
    for name, source in sorted(chosen.items()):
        copy = libs_dir / renames[name]
        shutil.copyfile(source, copy)
        os.chmod(copy, 0o755)
        run("patchelf", "--set-soname", renames[name], str(copy))
        written.append(copy)
        notice = copyright_file(source)
        if notice is not None:
            package = notice.parent.name
            shutil.copyfile(notice, libs_dir / "licenses" / f"{package}.copyright")
        else:
            print(f"nnrt wheel: warning: no copyright file found for {source} (not a Debian package?); "
                  "add its licence to nnrt.libs/licenses by hand before distributing", flush=True)
    for path in written:
        replacements = [arg for old in needed(path) if old in renames for arg in (old, renames[old])]
        for index in range(0, len(replacements), 2):
            run("patchelf", "--replace-needed", replacements[index], replacements[index + 1], str(path))
        rpath = "$ORIGIN" if path.parent == libs_dir else f"$ORIGIN/../{LIBS_DIR}"
        if chosen:
            run("patchelf", "--set-rpath", rpath, str(path))
    return written


class build_py(_build_py):
    """Adds ``nnrt/_version.py``, the bundled library and ``nnrt.libs/`` to the built package."""

    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            shutil.rmtree(Path(self.build_lib) / "nnrt", ignore_errors=True)  # nothing stale
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install runs from the checkout: nnrt finds build/lib there
        build_lib = Path(self.build_lib)
        package_dir = build_lib / "nnrt"
        (package_dir / "_version.py").write_text(
            f'"""The version of this nnrt package (Include/nnrt.h; written by setup.py)."""\n\n'
            f'__version__ = "{VERSION}"\n', encoding="utf-8")
        try:
            library = find_library()
            check_library_version(library)
            files = bundle(library, package_dir, build_lib / LIBS_DIR)
        except BuildError as error:
            sys.exit(str(error))
        setattr(self.distribution, "nnrt_elf_files", files)
        print(f"nnrt wheel: bundled {library} and {len(files) - 1} libraries it needs "
              f"({', '.join(path.name for path in files[1:]) or 'none'})", flush=True)


class BinaryDistribution(Distribution):
    """A distribution with platform files: they go to platlib, and the wheel is not "pure"."""

    def has_ext_modules(self) -> bool:
        return True


class bdist_wheel(_bdist_wheel):
    """Tags the wheel ``py3-none-<platform>``: pure-Python code, one platform's library."""

    def get_tag(self) -> Tuple[str, str, str]:
        files = getattr(self.distribution, "nnrt_elf_files", None)
        if not files:
            sys.exit("nnrt wheel: internal error: the library was not bundled before tagging")
        return "py3", "none", platform_tag(files)


setup(version=VERSION, distclass=BinaryDistribution,
      cmdclass={"build_py": build_py, "bdist_wheel": bdist_wheel})
