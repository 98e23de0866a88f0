// glibc keeps the pages of freed heap memory mapped: a host whose queues fill and empty
// under churn sees its resident size creep upward although the bytes it holds stay
// bounded (Docs/OPERATIONS.md, Soak). malloc_trim hands whole free pages back to the
// kernel, in every arena. Swift's Glibc module does not export <malloc.h>, hence this.
#include <stdlib.h>

#if defined(__GLIBC__)
#include <malloc.h>

static inline int hyphae_trim_heap(void) {
    return malloc_trim(0);
}
#define HYPHAE_CAN_TRIM_HEAP 1
#else
static inline int hyphae_trim_heap(void) {
    return 0;
}
#define HYPHAE_CAN_TRIM_HEAP 0
#endif
