#ifndef REGIOND_CSYSTEMD_SHIM_H
#define REGIOND_CSYSTEMD_SHIM_H
/* No feature macros here (_GNU_SOURCE would give system structs a different shape
   than in other modules, which clang's module check rejects on a clean build). */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

/* Same layout as struct ucred, which glibc declares only under _GNU_SOURCE. */
typedef struct regiond_peer_credentials {
    pid_t pid;
    uid_t uid;
    gid_t gid;
} regiond_peer_credentials;

static const int regiond_so_peercred = SO_PEERCRED;
#endif
