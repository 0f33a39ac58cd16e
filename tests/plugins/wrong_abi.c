/* wrong_abi — a library that says it was built against another ABI version. */
#include <stddef.h>
#include <stdint.h>

__attribute__((visibility("default"))) const uint32_t vb_task_abi = 999;
__attribute__((visibility("default"))) const void *const *vb_task_families(void) { return NULL; }
