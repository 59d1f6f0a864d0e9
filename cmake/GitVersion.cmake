# Writes the build stamp of `dpsanitize --version` and of every ledger's
# tool.version: the project version and the git commit the sources were
# built from. Run at BUILD time (cmake -P, from the dps_build_stamp target in
# src/CMakeLists.txt), not at configure time, so that a commit or an edit
# after configuring shows in the next build:
#
#   cmake -DDPS_SOURCE_DIR=... -DDPS_OUTPUT=.../build_stamp.cpp
#         -DDPS_PROJECT_VERSION=0.1.0 -P cmake/GitVersion.cmake
#
# The output is rewritten only when its content changes: an unchanged file
# keeps its time stamp, so make and ninja neither recompile nor relink.
#
# The commit is "unknown" without a git checkout of the sources themselves (a
# release tarball, git missing, or a git that refuses the folder); a source
# tree unpacked inside some other repository must not report that
# repository's commit, hence the --show-toplevel check. "dirty": tracked
# files differ from the commit (untracked files do not count).
cmake_minimum_required(VERSION 3.18)

foreach(var DPS_SOURCE_DIR DPS_OUTPUT DPS_PROJECT_VERSION)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "GitVersion.cmake: -D${var}=... is required")
  endif()
endforeach()

set(commit "unknown")
set(dirty "false")
find_program(GIT_EXECUTABLE git)
if(GIT_EXECUTABLE)
  execute_process(
    COMMAND "${GIT_EXECUTABLE}" -C "${DPS_SOURCE_DIR}" rev-parse --show-toplevel
    OUTPUT_VARIABLE toplevel OUTPUT_STRIP_TRAILING_WHITESPACE
    RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0)
    get_filename_component(toplevel "${toplevel}" REALPATH)
    get_filename_component(source "${DPS_SOURCE_DIR}" REALPATH)
  endif()
  if(rc EQUAL 0 AND toplevel STREQUAL source)
    execute_process(
      COMMAND "${GIT_EXECUTABLE}" -C "${DPS_SOURCE_DIR}" rev-parse --short=12 HEAD
      OUTPUT_VARIABLE head OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE rc ERROR_QUIET)
    if(rc EQUAL 0 AND head MATCHES "^[0-9a-f]+$")
      # 12 hex digits, as `git rev-parse --short=12` gives unless longer
      # ones are needed to be unique; keep exactly 12 for a stable format.
      string(SUBSTRING "${head}" 0 12 commit)
      # --no-optional-locks: never take index.lock, so a build cannot
      # collide with a git command the developer runs at the same time.
      execute_process(
        COMMAND "${GIT_EXECUTABLE}" --no-optional-locks -C "${DPS_SOURCE_DIR}" status
                --porcelain --untracked-files=no
        OUTPUT_VARIABLE changes
        RESULT_VARIABLE rc ERROR_QUIET)
      if(rc EQUAL 0 AND NOT changes STREQUAL "")
        set(dirty "true")
      endif()
    endif()
  endif()
endif()

set(content "// Generated at build time by cmake/GitVersion.cmake: do not edit.
#include \"dpsanitize/pipeline/version.h\"

namespace dpsanitize {

BuildStamp GetBuildStamp() { return {\"${DPS_PROJECT_VERSION}\", \"${commit}\", ${dirty}}; }

}  // namespace dpsanitize
")

set(old "")
if(EXISTS "${DPS_OUTPUT}")
  file(READ "${DPS_OUTPUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${DPS_OUTPUT}" "${content}")
endif()
