/*
 * proc.c - child processes, free ports, CPU pinning and one-shot HTTP calls for locus-bench.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <curl/curl.h>

#include "bench.h"
#include "opts.h"

char *bench_self_dir(void)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    if (n <= 0)
        return xstrdup(".");
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (slash == NULL)
        return xstrdup(".");
    *slash = '\0';
    return xstrdup(path);
}

static int pin_pid(pid_t pid, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(pid, sizeof(set), &set);
}

int bench_pin_self(int cpu)
{
    return pin_pid(0, cpu);
}

pid_t bench_spawn(char *const argv[], const char *log, int cpu)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        return pid;

    /* child */
    signal(SIGINT, SIG_IGN); /* the bench decides when its children stop */
    signal(SIGPIPE, SIG_DFL);
    if (cpu >= 0)
        (void)pin_pid(0, cpu);
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0) {
        dup2(in, 0);
        close(in);
    }
    if (log != NULL) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
    }
    execv(argv[0], argv);
    dprintf(2, "locus-bench: cannot exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

int bench_run(char *const argv[], const char *log, int cpu, int timeout_s)
{
    pid_t pid = bench_spawn(argv, log, cpu);
    if (pid < 0)
        return -1;
    int64_t deadline = time_mono_ns() + (int64_t)timeout_s * 1000000000LL;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0 && errno != EINTR)
            return -1;
        if (time_mono_ns() > deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            return -1;
        }
        sleep_ms(20);
    }
}

static bool port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

bool bench_port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

int bench_free_ports(int n)
{
    /* Random starts in 20000..44999, away from the usual 8080-ish ports and from the
     * kernel's ephemeral range (32768+ is avoided for the upper part of each block only
     * by luck; a clash shows up as a failed bind in the daemon, which we report). */
    unsigned seed = (unsigned)(time_mono_ns() ^ getpid());
    for (int attempt = 0; attempt < 200; attempt++) {
        int base = 20000 + (int)(rand_r(&seed) % 12000);
        bool ok = true;
        for (int i = 0; i < n && ok; i++)
            ok = port_bindable(base + i) && !bench_port_open(base + i);
        if (ok)
            return base;
    }
    return -1;
}

void bench_dump_tail(const char *path, size_t max)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long sz = ftell(f);
        if (sz > (long)max)
            fseek(f, sz - (long)max, SEEK_SET);
        else
            fseek(f, 0, SEEK_SET);
    }
    char line[1024];
    while (fgets(line, sizeof(line), f) != NULL)
        fprintf(stderr, "    | %s", line);
    fclose(f);
}

static size_t on_resp(char *p, size_t sz, size_t nm, void *ud)
{
    if (ud != NULL)
        buf_append(ud, p, sz * nm);
    return sz * nm;
}

long bench_http(const char *method, const char *url, const char *body, buf_t *resp, char *err,
                size_t errlen)
{
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(err, errlen, "curl_easy_init failed");
        return -1;
    }
    struct curl_slist *hdrs = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_resp);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    }
    long status = -1;
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        snprintf(err, errlen, "%s %s: %s", method, url, curl_easy_strerror(rc));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return status;
}

/* One line describing this machine: CPUs and model, memory, kernel. */
void bench_machine_desc(char *out, size_t len)
{
    char model[128] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof(line), f) != NULL) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c != NULL) {
                    c++;
                    while (*c == ' ')
                        c++;
                    c[strcspn(c, "\n")] = '\0';
                    snprintf(model, sizeof(model), "%s", c);
                }
                break;
            }
        }
        fclose(f);
    }
    long mem_kb = 0;
    f = fopen("/proc/meminfo", "r");
    if (f != NULL) {
        if (fscanf(f, "MemTotal: %ld kB", &mem_kb) != 1)
            mem_kb = 0;
        fclose(f);
    }
    struct utsname u;
    if (uname(&u) != 0)
        snprintf(u.release, sizeof(u.release), "?");
    snprintf(out, len, "%ld CPUs (%s), %.0f GiB RAM, Linux %s", sysconf(_SC_NPROCESSORS_ONLN),
             model, (double)mem_kb / 1024.0 / 1024.0, u.release);
}

int bench_cluster_open(const char *endpoint, bench_smap_t *sm, locus_client_t **cl)
{
    char err[LOCUS_ERR_LEN] = "";
    if (bench_smap_fetch(endpoint, sm, err, sizeof(err)) != 0) {
        fprintf(stderr, "locus-bench: %s\n", err);
        return -1;
    }
    if (sm->nt == 0) {
        fprintf(stderr, "locus-bench: the cluster at %s has no active targets\n", endpoint);
        return -1;
    }
    if (cl == NULL)
        return 0;
    if (locus_client_create(endpoint, cl, err) != 0) {
        fprintf(stderr, "locus-bench: %s\n", err);
        return -1;
    }
    locus_client_set_timeouts(*cl, 5000, 120000);
    return 0;
}

FILE *bench_md_open(const char *path, const char *cmd, const char *mach, const char *params)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "locus-bench: cannot write %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(f, "<!-- generated by locus-bench %s, %s -->\n\n", cmd, when);
    fprintf(f, "Machine: %s. %s", mach, params);
    return f;
}

/* Go's RFC 3339 times of job snapshots (nanoseconds, zone offsets) -> unix ns; 0 for Go's zero
 * time (year 1) or anything unparseable. */
int64_t bench_rfc3339_ns(const char *s)
{
    if (s == NULL)
        return 0;
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6)
        return 0;
    if (tm.tm_year < 1971)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const char *p = s + n;
    int64_t frac = 0;
    if (*p == '.') {
        int64_t scale = 100000000;
        for (p++; isdigit((unsigned char)*p); p++) {
            frac += (*p - '0') * scale;
            scale /= 10;
        }
    }
    int64_t off = 0;
    if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        if (sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2)
            off = (*p == '+' ? 1 : -1) * ((int64_t)hh * 3600 + mm * 60);
    }
    return ((int64_t)timegm(&tm) - off) * 1000000000LL + frac;
}

/* The start of a cluster benchmark: signals, libcurl, the temp dir and the banner. 0, or -1
 * with the reason printed. */
static int bench_start(const bench_cmd_t *c, bench_run_t *r)
{
    r->started_ns = time_mono_ns();
    bench_catch_signals();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *tmpdir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    r->tmp = xasprintf("%s/%s-XXXXXX", tmpdir, c->prefix);
    r->bindir = bench_self_dir();
    bench_machine_desc(r->mach, sizeof(r->mach));
    fprintf(stderr, "locus-bench %s: %s\n", c->name, r->mach);
    if (mkdtemp(r->tmp) == NULL) {
        fprintf(stderr, "locus-bench: mkdtemp %s: %s\n", r->tmp, strerror(errno));
        free(r->tmp);
        r->tmp = NULL;
        return -1;
    }
    return 0;
}

/* The end, the inverse of bench_start: stops the cluster under r->cluster_dir (if any), removes
 * the temp dir unless --keep (then says where it is), prints "locus-bench <cmd>: done in N s",
 * frees r's strings and cleans libcurl up. */
static void bench_end(const bench_cmd_t *c, bench_run_t *r)
{
    if (r->cluster_dir != NULL)
        bench_cluster_down(r->bindir, r->cluster_dir);
    if (r->tmp != NULL && !r->keep)
        remove_tree(r->tmp);
    else if (r->tmp != NULL)
        fprintf(stderr, "--keep: temp dir %s\n", r->tmp);
    fprintf(stderr, "locus-bench %s: done in %.0f s\n", c->name,
            (double)(time_mono_ns() - r->started_ns) / 1e9);
    free(r->tmp);
    free(r->bindir);
    free(r->cluster_dir);
    curl_global_cleanup();
}

int bench_main(const bench_cmd_t *c, int argc, char **argv)
{
    void *state = xcalloc(1, c->size);
    bench_run_t *r = state;
    int rc = c->parse(state, argc, argv);
    if (rc == BENCH_OPTS_GO) {
        rc = bench_start(c, r) == 0 ? c->run(state) : 1;
        bench_end(c, r);
    }
    free(state);
    return rc;
}

int bench_own_cluster(const char *bindir, const char *dir, int targets, int cpu, char **endpoint)
{
    char err[LOCUS_ERR_LEN] = "";
    int port = bench_free_ports(1 + targets);
    if (port < 0) {
        fprintf(stderr, "locus-bench: no free ports\n");
        return -1;
    }
    fprintf(stderr, "starting a cluster (1 proxy, %d targets) on port %d in %s\n", targets, port,
            dir);
    if (bench_cluster_up(bindir, dir, port, targets, cpu, err, sizeof(err)) != 0) {
        fprintf(stderr, "locus-bench: %s\n", err);
        return -1;
    }
    *endpoint = xasprintf("http://127.0.0.1:%d", port);
    return 0;
}

static void on_signal(int sig)
{
    (void)sig;
    bench_stop = 1;
}

void bench_catch_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* utime + stime, in clock ticks, from one /proc stat file (0 if it is gone). */
static long stat_ticks(const char *path)
{
    char line[1024];
    long sum = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    if (fgets(line, sizeof(line), f) != NULL) {
        const char *rp = strrchr(line, ')');
        unsigned long ut = 0, st = 0;
        /* after "pid (comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt
         * cmajflt utime stime */
        if (rp != NULL &&
            sscanf(rp + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            sum = (long)(ut + st);
    }
    fclose(f);
    return sum;
}

/* The sum of stat_ticks() over the stat files fmt names for each id. */
static long ticks_of(const char *fmt, const pid_t *ids, int n)
{
    long sum = 0;
    for (int i = 0; i < n; i++) {
        char path[80];
        snprintf(path, sizeof(path), fmt, (int)ids[i]);
        sum += stat_ticks(path);
    }
    return sum;
}

long bench_cpu_ticks(const pid_t *pids, int n)
{
    return ticks_of("/proc/%d/stat", pids, n);
}

long bench_thread_ticks(const pid_t *tids, int n)
{
    return ticks_of("/proc/self/task/%d/stat", tids, n);
}
