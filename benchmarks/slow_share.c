/* A share as a network mount serves it, in C: the same read-only FUSE passthrough as slow_share.py
 * (sleep DELAY before each lookup/getattr, opendir, readdir, open, read, readlink and close, then do it
 * on the real tree; listings carry each entry's type; the kernel keeps names and attributes 1 s), but
 * without Python's per-request CPU cost. A file server spends its own CPUs on answering; a Python daemon
 * on this machine's two cores took CPU from the discovery being measured (0.73 CPU-s in a 0.70 s run).
 *
 * Built by slow_share.py with the system's libfuse3 headers when they are present (Debian: libfuse3-dev):
 *   gcc -O2 -Wall -o slow_share benchmarks/slow_share.c $(pkg-config --cflags --libs fuse3)
 *   ./slow_share DELAY_MS ROOT MOUNTPOINT -f -o ro,max_threads=64,max_idle_threads=64
 */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct timespec delay;
static char root[PATH_MAX];

/* The server's round trip, then the real path below the root. */
static void real_path(char *out, const char *path) {
    nanosleep(&delay, NULL);
    snprintf(out, PATH_MAX, "%s%s", root, path);
}

static int slow_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
    (void)fi;
    char real[PATH_MAX];
    real_path(real, path);
    return lstat(real, st) == -1 ? -errno : 0;
}

static int slow_opendir(const char *path, struct fuse_file_info *fi) {
    char real[PATH_MAX];
    struct stat st;
    real_path(real, path);
    (void)fi;
    return stat(real, &st) == -1 ? -errno : 0;
}

static int slow_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t offset,
                        struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
    (void)offset; (void)fi; (void)flags;
    char real[PATH_MAX];
    real_path(real, path);
    DIR *dir = opendir(real);
    if (dir == NULL) return -errno;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        struct stat st;
        memset(&st, 0, sizeof st);
        st.st_mode = (mode_t)DTTOIF(entry->d_type);  /* the entry's type only, as SMB/NFS listings give */
        if (fill(buf, entry->d_name, &st, 0, 0)) break;
    }
    closedir(dir);
    return 0;
}

static int slow_readlink(const char *path, char *buf, size_t size) {
    char real[PATH_MAX];
    real_path(real, path);
    ssize_t n = readlink(real, buf, size - 1);
    if (n == -1) return -errno;
    buf[n] = '\0';
    return 0;
}

static int slow_open(const char *path, struct fuse_file_info *fi) {
    if (fi->flags & (O_WRONLY | O_RDWR)) return -EROFS;
    char real[PATH_MAX];
    real_path(real, path);
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd == -1) return -errno;
    fi->fh = (uint64_t)fd;
    return 0;
}

static int slow_read(const char *path, char *buf, size_t size, off_t offset, struct fuse_file_info *fi) {
    (void)path;
    nanosleep(&delay, NULL);
    ssize_t n = pread((int)fi->fh, buf, size, offset);
    return n == -1 ? -errno : (int)n;
}

static int slow_release(const char *path, struct fuse_file_info *fi) {
    (void)path;
    nanosleep(&delay, NULL);
    close((int)fi->fh);
    return 0;
}

static int slow_statfs(const char *path, struct statvfs *st) {
    char real[PATH_MAX];
    snprintf(real, PATH_MAX, "%s%s", root, path);
    return statvfs(real, st) == -1 ? -errno : 0;
}

static const struct fuse_operations operations = {
    .getattr = slow_getattr,
    .opendir = slow_opendir,
    .readdir = slow_readdir,
    .readlink = slow_readlink,
    .open = slow_open,
    .read = slow_read,
    .release = slow_release,
    .statfs = slow_statfs,
};

int main(int argc, char *argv[]) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s DELAY_MS ROOT MOUNTPOINT [fuse options]\n", argv[0]);
        return 2;
    }
    double delay_ms = atof(argv[1]);
    long ns = (long)(delay_ms * 1e6);
    delay.tv_sec = ns / 1000000000L;
    delay.tv_nsec = ns % 1000000000L;
    if (realpath(argv[2], root) == NULL) {
        perror(argv[2]);
        return 2;
    }
    /* FUSE sees: program MOUNTPOINT [options] */
    argv[2] = argv[0];
    return fuse_main(argc - 2, argv + 2, &operations, NULL);
}
