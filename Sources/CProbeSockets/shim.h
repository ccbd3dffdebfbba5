#ifndef REGIOND_CPROBESOCKETS_SHIM_H
#define REGIOND_CPROBESOCKETS_SHIM_H
/* What the probe engine needs from Linux that Swift's Glibc module does not bring:
   epoll and eventfd. No feature macros (see CSystemd/shim.h). */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

static const unsigned int regiond_epollin = EPOLLIN;
static const unsigned int regiond_epollout = EPOLLOUT;
static const unsigned int regiond_epollrdhup = EPOLLRDHUP;
static const unsigned int regiond_epollerr = EPOLLERR;
static const unsigned int regiond_epollhup = EPOLLHUP;
static const unsigned int regiond_epollet = EPOLLET;
#endif
