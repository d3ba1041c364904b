// Linux system calls that Swift's Glibc module does not export.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <errno.h>

// errno is a macro over a thread-local; give Swift a plain function.
static inline int clinux_errno(void) { return errno; }

#include <poll.h>
#include <fcntl.h>
#include <unistd.h>

// GNU extensions that Swift's Glibc module leaves out unless _GNU_SOURCE was set.
#ifndef POLLRDHUP
#define POLLRDHUP 0x2000
#endif
static const short CLINUX_POLLRDHUP = POLLRDHUP;
extern int pipe2(int pipefd[2], int flags);
static inline int clinux_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
static inline int clinux_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) { return accept4(fd, addr, len, flags); }

// Names the calling thread (at most 15 bytes), as top and /proc/<pid>/task/<tid>/comm show it.
#include <pthread.h>
extern int pthread_setname_np(pthread_t thread, const char *name);
static inline int clinux_name_thread(const char *name) { return pthread_setname_np(pthread_self(), name); }
