# The CUDA backend's benchmark: pp512 / tg128 all on the GPU and at three splits, with the
# achieved read bandwidth beside the measured device-to-device copy bandwidth. Needs neither fmt
# nor CLI11, so that tests/gpu/run.sh builds it with the tests alone. Not part of `all`: it is a
# second instantiation of the whole engine under nvcc (a minute of CI's two cores); run.sh builds
# it by name, and so does `cmake --build ... --target strata-bench-gpu`.
find_package(CUDAToolkit REQUIRED)
add_executable(strata-bench-gpu EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/gpu.cu)
target_link_libraries(strata-bench-gpu PRIVATE strata::strata strata_project_flags CUDA::cudart CUDA::cublas)
target_include_directories(strata-bench-gpu PRIVATE ${PROJECT_SOURCE_DIR}/tests)
# CMake 3.25 does not know nvcc's C++20 flag (CUDA_STANDARD 20 fails to configure): say it.
target_compile_options(strata-bench-gpu PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>)
