// The engine the strata-* programs run, behind strata::any_engine: with the CUDA backend in a
// build with CUDA (load_engine.cpp is then compiled by nvcc), the CPU engine otherwise. The
// programs themselves are plain C++ with fmt, which nvcc cannot compile.
#pragma once

#include <memory>
#include <string>

#include "strata/engine/any_engine.hpp"

namespace strata_examples {

std::unique_ptr<strata::any_engine> load_engine(const std::string& path, strata::load_options opt);

}  // namespace strata_examples
