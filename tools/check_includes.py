#!/usr/bin/env python3
"""Checks that the engine headers include nothing but the C++ standard library, a few POSIX /
compiler headers, and strata/ itself; CUDA headers only in the CUDA backend and kernels/, and
only under a __CUDACC__ / STRATA_HAS_CUDA guard. Exits 1 listing every offending line."""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
STD = set("""algorithm any array atomic barrier bit bitset cassert cctype cerrno cfloat charconv chrono
cinttypes climits clocale cmath compare complex concepts condition_variable csignal cstdarg cstddef
cstdint cstdio cstdlib cstring ctime cwchar cwctype deque exception execution filesystem format
forward_list fstream functional future initializer_list iomanip ios iosfwd iostream istream iterator
latch limits list locale map memory memory_resource mutex new numbers numeric optional ostream queue
random ranges ratio regex scoped_allocator semaphore set shared_mutex source_location span sstream
stack stdexcept stop_token streambuf string string_view system_error thread tuple type_traits
typeindex typeinfo unordered_map unordered_set utility valarray variant vector version""".split())
# Operating-system and compiler-intrinsic headers the CPU backend and the file map need.
SYSTEM = {"sys/mman.h", "sys/stat.h", "sys/types.h", "fcntl.h", "unistd.h", "pthread.h", "sched.h",
          "immintrin.h", "cpuid.h", "sys/syscall.h", "asm/prctl.h", "sys/prctl.h", "sys/resource.h"}
CUDA = re.compile(r"^(cuda[\w/]*\.h|cuda_runtime|cublas\w*\.h|cub/.*|cuda/.*|nv/.*|curand.*\.h|nccl\.h)$")
CUDA_DIRS = ("include/strata/backend/cuda/", "kernels/")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
GUARD = re.compile(r"__CUDACC__|STRATA_HAS_CUDA")

def check(path: pathlib.Path):
    rel = path.relative_to(ROOT).as_posix()
    bad, stack = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        s = line.strip()
        if re.match(r"#\s*if", s):
            stack.append(bool(GUARD.search(s)))
        elif re.match(r"#\s*endif", s) and stack:
            stack.pop()
        m = INCLUDE.match(line)
        if not m:
            continue
        quote, name = m.groups()
        if quote == '"' and name.startswith("strata/"):
            continue
        if quote == '"' and name.startswith("kernels/") and (any(stack) or rel.startswith("kernels/")):
            continue  # device code, reached only by nvcc
        if quote == "<" and (name in STD or name in SYSTEM):
            continue
        # kernels/ is device code in its own right: the guard sits in the file that includes it
        if CUDA.match(name) and rel.startswith(CUDA_DIRS) and (any(stack) or rel.startswith("kernels/")):
            continue
        bad.append(f"{rel}:{n}: {line.strip()}")
    return bad

def self_test():
    """The checker must refuse what it is there to refuse."""
    import tempfile
    global ROOT
    saved = ROOT
    with tempfile.TemporaryDirectory() as d:
        ROOT = pathlib.Path(d)
        (ROOT / "include/strata/backend/cuda").mkdir(parents=True)
        (ROOT / "kernels").mkdir()
        cases = {
            "include/strata/a.hpp": ('#include <fmt/core.h>\n', 1),
            "include/strata/b.hpp": ('#include <cuda_runtime.h>\n', 1),
            "include/strata/backend/cuda/c.hpp": ('#include <cuda_runtime.h>\n', 1),
            "include/strata/backend/cuda/d.hpp": ('#if defined(__CUDACC__)\n#include <cuda_runtime.h>\n#include "kernels/x.cuh"\n#endif\n', 0),
            "include/strata/e.hpp": ('#include "kernels/x.cuh"\n', 1),
            "include/strata/f.hpp": ('#include <vector>\n#include "strata/core/error.hpp"\n#include <sys/mman.h>\n', 0),
            "kernels/g.cuh": ('#include <cub/cub.cuh>\n', 0),
        }
        for rel, (text, expected) in cases.items():
            (ROOT / rel).write_text(text)
            got = len(check(ROOT / rel))
            if got != expected:
                print(f"self-test failed on {rel}: {got} findings, expected {expected}", file=sys.stderr)
                return 1
    ROOT = saved
    print(f"self-test: {len(cases)} cases ok")
    return 0

def main():
    if "--self-test" in sys.argv:
        return self_test()
    files = sorted((ROOT / "include/strata").rglob("*.hpp")) + sorted((ROOT / "kernels").rglob("*.cuh"))
    bad = [b for f in files for b in check(f)]
    for b in bad:
        print(f"forbidden include: {b}", file=sys.stderr)
    print(f"checked {len(files)} headers: {len(bad)} forbidden includes")
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
