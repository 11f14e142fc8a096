#ifndef RIVULET_CLINUX_SHIM_H
#define RIVULET_CLINUX_SHIM_H

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <unistd.h>

// The Glibc module is built without _GNU_SOURCE, which hides accept4.
#ifndef __USE_GNU
extern int accept4(int, struct sockaddr *, socklen_t *, int);
#endif

#endif
