#!/bin/sh
# manpage.sh PROGRAM SECTION VERSION OUT.gz: a manual page from PROGRAM's --help (help2man),
# compressed as Debian policy wants. Called by packaging/CMakeLists.txt when the package is
# staged. The tools have no --version (CLI11 apps), so the version comes from CMake's project().
set -eu
program=$1 section=$2 version=$3 out=$4
command -v help2man > /dev/null || { echo "manpage.sh: help2man is missing (apt-get install help2man)" >&2; exit 1; }
name=$(basename "$program")
# The NAME line: the first line of --help is "NAME: what it does".
what=$("$program" --help | sed -n '1s/^[^:]*: //p')
[ -n "$what" ] || { echo "manpage.sh: $program --help has no 'NAME: description' first line" >&2; exit 1; }
# Run by its bare name (PATH), so that the page's usage line says "kmsd", not the build path.
PATH="$(dirname "$program"):$PATH" help2man --no-info --section="$section" --version-string="$version" \
  --name="$what" --source=simkms "$name" | gzip -9n > "$out"
