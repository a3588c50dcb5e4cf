"""Debian's system libraries that asr links, by name."""

# Abseil's libraries, each before those it uses (the link order).
ABSL_LIBS = [
    "absl_statusor",
    "absl_status",
    "absl_cord",
    "absl_cordz_info",
    "absl_cordz_handle",
    "absl_cordz_functions",
    "absl_cord_internal",
    "absl_str_format_internal",
    "absl_synchronization",
    "absl_graphcycles_internal",
    "absl_stacktrace",
    "absl_symbolize",
    "absl_debugging_internal",
    "absl_demangle_internal",
    "absl_malloc_internal",
    "absl_time",
    "absl_civil_time",
    "absl_time_zone",
    "absl_strings",
    "absl_strings_internal",
    "absl_int128",
    "absl_throw_delegate",
    "absl_raw_hash_set",
    "absl_hash",
    "absl_city",
    "absl_low_level_hash",
    "absl_hashtablez_sampler",
    "absl_exponential_biased",
    "absl_base",
    "absl_spinlock_wait",
    "absl_raw_logging_internal",
    "absl_log_severity",
    "absl_random_internal_pool_urbg",
    "absl_random_internal_randen",
    "absl_random_internal_randen_hwaes",
    "absl_random_internal_randen_hwaes_impl",
    "absl_random_internal_randen_slow",
    "absl_random_internal_platform",
    "absl_random_internal_seed_material",
    "absl_random_seed_gen_exception",
    "absl_strerror",
]

# Where a binary should not load its libraries at run time: the archives
# (lib*.a of the -dev packages) of Abseil, Protocol Buffers, zstd and xxHash,
# for the binary's own linkopts. Those come before the libraries' -l options
# on the link line, so the archives define every symbol first and
# --as-needed leaves the shared objects out. A process then maps 8 shared
# objects instead of 53, and `asrctl --help` costs 3 ms of CPU instead of
# 7-10 ms, most of it the dynamic loader's symbol lookups (every `asrctl
# replicate` of a tracked cycle paid them). Only for executables: Debian's
# archives are not position-independent code, so libasr.so cannot take them.
STATIC_SYSTEM_LIBS_LINKOPTS = [
    "-Wl,--as-needed",
    "-Wl,--start-group",
] + ["-l:lib%s.a" % lib for lib in ABSL_LIBS + ["protobuf", "zstd", "xxhash"]] + [
    "-Wl,--end-group",
]
