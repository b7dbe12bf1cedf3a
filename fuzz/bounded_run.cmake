# ctest helper: one bounded libFuzzer run of HARNESS for SECONDS seconds,
# seeded from a fresh scratch copy of CORPUS (so the repository is only
# read), with DICT and MAX_LEN; crash artifacts go under ARTIFACTS.
foreach(var HARNESS CORPUS DICT SCRATCH ARTIFACTS SECONDS MAX_LEN)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "bounded_run.cmake: ${var} is not set")
  endif()
endforeach()
file(REMOVE_RECURSE ${SCRATCH})
file(MAKE_DIRECTORY ${SCRATCH} ${ARTIFACTS})
file(GLOB seeds ${CORPUS}/*)
file(COPY ${seeds} DESTINATION ${SCRATCH})
execute_process(
  COMMAND ${HARNESS} -max_total_time=${SECONDS} -dict=${DICT}
          -max_len=${MAX_LEN} -timeout=10 -rss_limit_mb=4096
          -print_final_stats=1 -artifact_prefix=${ARTIFACTS}/
          ${SCRATCH}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${HARNESS} found a problem (exit ${rc}); "
                      "reproducers are in ${ARTIFACTS}")
endif()
