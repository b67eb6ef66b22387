/* The master–worker channel; see control.h. */
#include "core/control.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int fy_ctl_pair(int fds[2])
{
    return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0 ? -errno : 0;
}

int fy_ctl_send(int sock, enum fy_ctl_type type, const char *text, const int *fds, size_t nfds)
{
    struct fy_ctl_msg msg = {.type = type};
    snprintf(msg.text, sizeof msg.text, "%s", text ? text : "");
    union {
        char buf[CMSG_SPACE(sizeof(int) * FY_CTL_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {&msg, sizeof msg};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0 && nfds <= FY_CTL_MAX_FDS) {
        memset(&control, 0, sizeof control);
        mh.msg_control = control.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    ssize_t n;
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

int fy_ctl_recv(int sock, struct fy_ctl_msg *msg, int *fds, size_t *nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * FY_CTL_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {msg, sizeof *msg};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf};
    *nfds = 0;
    ssize_t n;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
            if (*nfds < FY_CTL_MAX_FDS)
                fds[(*nfds)++] = fd;
            else
                close(fd);
        }
    }
    if (n == 0)
        return 0;
    if ((size_t)n != sizeof *msg) {
        for (size_t i = 0; i < *nfds; i++)
            close(fds[i]);
        *nfds = 0;
        return -EPROTO;
    }
    msg->text[sizeof msg->text - 1] = '\0';
    return 1;
}
