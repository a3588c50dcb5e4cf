"""Shared compiler options for asr's own targets."""

# Warnings are errors for project code; system headers come in through
# -isystem so their warnings do not count.
ASR_COPTS = [
    "-std=c++17",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unused-parameter",
    "-fvisibility=hidden",
]

ASR_C_COPTS = [
    "-std=c99",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
]

# Generated protobuf code is not ours to keep warning-free.
ASR_GENERATED_COPTS = [
    "-std=c++17",
    "-w",
    "-fvisibility=hidden",
]
