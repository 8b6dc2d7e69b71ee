# Builds and runs one consumer project of tests/consumer/ (cmake -P script; see CMakeLists.txt).
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGV}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

set(consumer ${SOURCE_DIR}/tests/consumer/${MODE})
if(MODE STREQUAL "single_header")
  set(consumer ${SOURCE_DIR}/tests/consumer)
endif()
if(MODE STREQUAL "subdirectory")
  run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/build -G ${GENERATOR}
      -DCMAKE_CXX_COMPILER=${CXX} -DSTRATA_DIR=${SOURCE_DIR})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
  run(${WORK_DIR}/build/consumer)
elseif(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} --install ${BINARY_DIR} --prefix ${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK_DIR}/build -G ${GENERATOR}
      -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
  run(${WORK_DIR}/build/consumer)
elseif(MODE STREQUAL "single_header")
  # Only the single header is copied: nothing else of Strata is reachable.
  file(COPY ${SOURCE_DIR}/single_include/strata/strata.hpp DESTINATION ${WORK_DIR}/include/strata)
  run(${CXX} -std=c++20 -O1 -Wall -Wextra -Werror -I${WORK_DIR}/include ${consumer}/main.cpp
      -o ${WORK_DIR}/consumer -pthread)
  run(${WORK_DIR}/consumer)
else()
  message(FATAL_ERROR "unknown MODE ${MODE}")
endif()
