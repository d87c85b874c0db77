// libFuzzer's driver entry point (compiler-rt, FuzzerInterface.h). Only the dkim-fuzz
// executable uses it, and only when built with -sanitize=fuzzer -DFUZZING.
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
