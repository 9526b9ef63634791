#ifndef GRAFT_CMEMORY_H
#define GRAFT_CMEMORY_H

#include <stddef.h>

/// Grows the anonymous mapping at `address` (`old_size` bytes) to `new_size` bytes, letting the
/// kernel move it (Linux mremap with MREMAP_MAYMOVE: the pages are remapped, not copied; the
/// added bytes are zero). Returns the mapping's new address, or NULL when it cannot grow (then
/// the old mapping is untouched) and on systems without mremap. mremap is variadic in C, which
/// Swift cannot call, hence this wrapper.
void *graft_mremap_grow(void *address, size_t old_size, size_t new_size);

#endif
