# commit.cmake — writes OUT, a header with the git commit the program is built from:
#   cmake -DSRC=source_dir -DOUT=gen/nn_commit.h -P cmake/commit.cmake
# `#define NN_COMMIT "abc1234"` (with "-dirty" when tracked files differ from it), or "" when
# SRC is not a git checkout or git is missing (a source archive). Run at every build, so the
# commit is never stale; the header is rewritten only when it changes, so nothing is
# recompiled for nothing.
if(NOT SRC OR NOT OUT)
  message(FATAL_ERROR "commit.cmake: set -DSRC=source_dir and -DOUT=header")
endif()
set(commit "")
find_program(GIT git)
if(GIT AND EXISTS "${SRC}/.git")
  execute_process(COMMAND "${GIT}" -C "${SRC}" rev-parse --short=7 HEAD
                  OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    set(commit "")
  else()
    execute_process(COMMAND "${GIT}" -C "${SRC}" diff --quiet HEAD --
                    RESULT_VARIABLE dirty ERROR_QUIET)
    if(dirty EQUAL 1)
      string(APPEND commit "-dirty")
    endif()
  endif()
endif()
set(text "/* Written by cmake/commit.cmake at build time. */\n#define NN_COMMIT \"${commit}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
