"""asr_fuzz_target: one LLVMFuzzerTestOneInput source, two binaries.

  <name>_test       gcc: the source linked with //asr/fuzz:driver, which runs
                    every file of the committed seed corpus and a bounded
                    number of seeded mutations of them (part of the suite).
  <name>_libfuzzer  clang: a real libFuzzer binary, built under
                    --config=fuzz (ASan + UBSan) and run by tools/fuzz.sh.
                    Manual: gcc cannot link it, so //... skips it.

The corpus is the folder corpus/<name>/ next to the BUILD file.
"""

load("//bazel:copts.bzl", "ASR_COPTS")

def asr_fuzz_target(name, srcs, deps = [], iterations = 10000, size = "small", data = []):
    corpus = native.glob(["corpus/%s/*" % name])
    native.cc_test(
        name = name + "_test",
        size = size,
        srcs = srcs,
        args = [
            native.package_name() + "/corpus/" + name,
            str(iterations),
        ],
        copts = ASR_COPTS,
        data = corpus + data,
        deps = deps + ["//asr/fuzz:driver", "//asr/fuzz:quiet_protobuf"],
    )
    native.cc_binary(
        name = name + "_libfuzzer",
        testonly = True,
        srcs = srcs,
        copts = ASR_COPTS,
        data = data,
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual"],
        deps = deps + ["//asr/fuzz:quiet_protobuf"],
    )
