#!/bin/sh
# Runs a test program under the command in VALLEY_TEST_LAUNCHER (empty: runs it as it is).
# Every C test program runs through this (tests/CMakeLists.txt), and the shell tests' valley is
# tests/valley.sh.in, which does the same: scripts/memcheck.sh sets VALLEY_TEST_LAUNCHER to run the
# whole suite, or a subset, under valgrind in a build made for it.  Word-split on purpose.
# shellcheck disable=SC2086
exec ${VALLEY_TEST_LAUNCHER:-} "$@"
