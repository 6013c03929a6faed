# Shortcuts for packagers and for `make && make install` habits; scripts/package.sh does the work
# (README "Installing"). The Swift build itself is SwiftPM's (scripts/build.sh).
#
#   make                 the same as make dist
#   make dist            build/dist/: install tree, release tarball, Python wheel
#   make install         install the C library, header, pkg-config and CMake files into
#                        $(DESTDIR)$(PREFIX) (default /usr/local; LIBDIR=lib below it)
#   make wheel           only the library and the Python wheel (build/dist/*.whl)
#   make check-packaging scripts/test-packaging.sh (builds and checks the packages)
PREFIX ?= $(if $(prefix),$(prefix),/usr/local)
LIBDIR ?= lib
DESTDIR ?=

all: dist

dist:
	scripts/package.sh --libdir '$(LIBDIR)'

install:
	DESTDIR='$(DESTDIR)' scripts/package.sh --prefix '$(PREFIX)' --libdir '$(LIBDIR)'

wheel:
	scripts/build.sh --lib
	NNRT_LIBRARY="$(CURDIR)/build/lib/libnnrt.so" python3 -m pip wheel --no-deps --no-cache-dir -w build/dist ./Bindings/python

check-packaging:
	scripts/test-packaging.sh

.PHONY: all dist install wheel check-packaging
