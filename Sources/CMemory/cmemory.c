#if defined(__linux__)
#define _GNU_SOURCE
#include <sys/mman.h>
#endif
#include "cmemory.h"

void *graft_mremap_grow(void *address, size_t old_size, size_t new_size) {
#if defined(__linux__)
    void *grown = mremap(address, old_size, new_size, MREMAP_MAYMOVE);
    return grown == MAP_FAILED ? NULL : grown;
#else
    (void)address; (void)old_size; (void)new_size;
    return NULL;
#endif
}
