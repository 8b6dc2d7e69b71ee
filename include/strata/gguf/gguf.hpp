// strata/gguf/gguf.hpp — the GGUF layer: map a file, read and validate it, write one.
#pragma once

#include "strata/gguf/mapped_file.hpp"  // read-only mmap (or borrowed bytes)
#include "strata/gguf/value.hpp"        // metadata values, viewed in place
#include "strata/gguf/file.hpp"         // gguf::file: header, metadata, tensor table, validation
#include "strata/gguf/writer.hpp"       // gguf::writer: build files (and sparse shape-only ones)
#include "strata/gguf/summary.hpp"      // what strata-inspect shows, and its JSON
