"""asr_cc_proto: C++ code from a .proto with Debian's protoc, as a cc_library.

Bazel 4.2.3 cannot fetch rules_proto or build protoc here, so a genrule calls
the system `protoc` (protobuf-compiler 3.21, matching libprotobuf-dev).
"""

load("//bazel:copts.bzl", "ASR_GENERATED_COPTS")

def asr_cc_proto(name, srcs, deps = [], visibility = None):
    """Generates <name> as a cc_library from `srcs` (.proto files in this package).

    Args:
      name: the cc_library's name.
      srcs: .proto files of this package.
      deps: other asr_cc_proto targets whose .proto files these import.
      visibility: the library's visibility.
    """
    pkg = native.package_name()
    hdrs = [s[:-len(".proto")] + ".pb.h" for s in srcs]
    ccs = [s[:-len(".proto")] + ".pb.cc" for s in srcs]
    native.genrule(
        name = name + "_genproto",
        srcs = srcs + [d + "_srcs" for d in deps],
        outs = hdrs + ccs,
        cmd = "protoc --proto_path=. --cpp_out=$(GENDIR) " +
              " ".join(["%s/%s" % (pkg, s) for s in srcs]),
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = srcs + [d + "_srcs" for d in deps],
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = ccs,
        hdrs = hdrs,
        copts = ASR_GENERATED_COPTS,
        deps = deps + ["//third_party/system:protobuf"],
        visibility = visibility,
    )
