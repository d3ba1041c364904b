// liburing for the io_uring poller (docs/adr/0014). Its helpers are static inline functions,
// which Swift imports; what it spells as macros gets a function here.
// CLinux first: the libc headers both include then belong to CLinux, not to this module.
#include "../CLinux/shim.h"
#include <liburing.h>

static inline struct io_uring_cqe *curing_peek(struct io_uring *ring) {
    struct io_uring_cqe *cqe = 0;
    return io_uring_peek_cqe(ring, &cqe) == 0 ? cqe : 0;
}

// The buffer group sits in a union of the submission entry.
static inline void curing_prep_recv_multishot(struct io_uring_sqe *sqe, int fd, unsigned short group) {
    io_uring_prep_recv_multishot(sqe, fd, 0, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = group;
}

// A flag of the submission entry that liburing spells as a shift of an enumerator.
static inline void curing_skip_success(struct io_uring_sqe *sqe) {
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}
