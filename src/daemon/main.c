/*
 * main.c - locusd: parse flags and config, start the proxy or target role, serve until
 * SIGTERM/SIGINT.
 */
#include "auth/auth.h"
#include "cluster/cluster.h"
#include "cluster/daemon.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "net/net.h"
#include "proxy/proxy.h"
#include "target/target.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_bool wipe_data;

/* The primary told this node to stop (shutdown-node, decommission-node): the same path as a
 * SIGTERM, which sigwait in main receives. */
static void on_stop_request(bool rm_user_data)
{
    if (rm_user_data)
        wipe_data = true;
    kill(getpid(), SIGTERM);
}

int main(int argc, char **argv)
{
    config_t cfg;
    char err[LOCUS_ERR_LEN];
    config_init(&cfg);
    int rc = config_parse_args(&cfg, argc, argv, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0 || config_validate(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "locusd: %s\n", err);
        return 2;
    }
    if (log_init(cfg.role == ROLE_PROXY ? 'P' : 'T', log_level_parse(cfg.log_level), cfg.log_file) <
        0) {
        fprintf(stderr, "locusd: cannot open log file %s\n", cfg.log_file);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* threads inherit: only sigwait below sees them */

    httpc_set_tls_ca(cfg.tls_ca); /* before any node-to-node request */
    if (http_set_tls(cfg.tls_cert, cfg.tls_key, err, sizeof(err)) < 0) {
        fprintf(stderr, "locusd: %s\n", err);
        return 2;
    }
    if (auth_init(&cfg, err, sizeof(err)) < 0) {
        LOCUS_LOG(LOG_WARNING, "%s", err);
        fprintf(stderr, "locusd: %s\n", err);
        return 2;
    }
    if (!auth_intra_enabled())
        LOCUS_LOG(LOG_WARNING, "no cluster_secret: intra-cluster requests are not authenticated "
                               "(anyone who reaches this node can push cluster metadata); set "
                               "cluster_secret_file (docs/security.md)");
    if (cluster_init(&cfg, err, sizeof(err)) < 0) {
        LOCUS_LOG(LOG_WARNING, "%s", err);
        fprintf(stderr, "locusd: %s\n", err);
        return 1;
    }
    http_handler_cb on_headers, on_request;
    if (cfg.role == ROLE_PROXY) {
        rc = proxy_init(err, sizeof(err));
        on_headers = proxy_on_headers;
        on_request = proxy_on_request;
    } else {
        rc = target_init(err, sizeof(err));
        on_headers = target_on_headers;
        on_request = target_on_request;
    }
    if (rc < 0) {
        LOCUS_LOG(LOG_WARNING, "%s", err);
        fprintf(stderr, "locusd: %s\n", err);
        return 1;
    }
    http_set_io_threads(cfg.io_threads);
    http_server_t *srv = http_server_start(cfg.host, cfg.port, cluster_self_name(), on_headers,
                                           on_request, err, sizeof(err));
    if (srv == NULL) {
        LOCUS_LOG(LOG_WARNING, "%s", err);
        fprintf(stderr, "locusd: %s\n", err);
        return 1;
    }
    LOCUS_LOG(LOG_NOTICE, "%s: listening on %s:%d (%s)", cluster_self_name(), cfg.host, cfg.port,
              cfg.role == ROLE_PROXY ? (cluster_is_primary() ? "primary proxy" : "proxy")
                                     : "target");
    char *pidfile = xasprintf("%s/locusd.pid", cfg.data_dir);
    char pid[32];
    snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    write_file_atomic(pidfile, pid, strlen(pid));
    cluster_on_stop_request(on_stop_request);
    cluster_start();

    int sig = 0;
    sigwait(&set, &sig);
    LOCUS_LOG(LOG_NOTICE, "%s: signal %d, shutting down", cluster_self_name(), sig);
    cluster_stop();
    if (cfg.role == ROLE_TARGET)
        target_shutdown();
    else
        proxy_shutdown();
    http_server_stop(srv);
    if (cfg.role == ROLE_TARGET && wipe_data) {
        LOCUS_LOG(LOG_NOTICE, "%s: decommissioned: removing the objects it stored",
                  cluster_self_name());
        target_remove_data();
    }
    unlink(pidfile);
    free(pidfile);
    auth_reset();
    config_dispose(&cfg);
    return 0;
}
