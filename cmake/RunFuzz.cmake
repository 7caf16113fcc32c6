# Runs a libFuzzer target for SECONDS on a scratch copy of its corpus, so
# new inputs found by a test run do not change the committed seeds.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
file(GLOB seeds ${CORPUS}/*)
if(seeds)
  file(COPY ${seeds} DESTINATION ${WORK})
endif()
execute_process(COMMAND ${FUZZER} -max_total_time=${SECONDS} -timeout=10
    -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix=${WORK}.crash- ${WORK}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "fuzzer ${FUZZER} failed: ${rc}")
endif()
