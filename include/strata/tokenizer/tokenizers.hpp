// strata/tokenizer/tokenizers.hpp — the tokenizer layer: llama.cpp-exact text <-> token ids.
#pragma once

#include "strata/tokenizer/unicode_tables.hpp"  // generated: general categories, White_Space
#include "strata/tokenizer/unicode.hpp"         // llama.cpp-lenient UTF-8, classes, GPT-2 byte alphabet
#include "strata/tokenizer/vocab.hpp"           // tokenizer::vocab: the plain description
#include "strata/tokenizer/pre_tokenizer.hpp"   // the word splitters of byte-level BPE models
#include "strata/tokenizer/bpe.hpp"             // byte-level BPE (gpt2)
#include "strata/tokenizer/spm.hpp"             // SentencePiece BPE with byte fallback (llama)
#include "strata/tokenizer/wordpiece_tables.hpp" // generated: accent stripping + lower case
#include "strata/tokenizer/wordpiece.hpp"       // BERT WordPiece (bert)
#include "strata/tokenizer/tokenizer.hpp"       // tokenizer::tokenizer: encode / decode / piece
#include "strata/tokenizer/from_gguf.hpp"       // load_vocab(gguf::file)
