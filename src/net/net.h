/*
 * net.h - the HTTP stack of the daemons: a libmicrohttpd server wrapper (event-driven I/O
 * threads, worker threads for handlers that block, streaming request bodies, sendfile
 * responses) and a libcurl client with one keep-alive easy handle per thread.
 *
 * DESIGN
 * Every request goes through two handler calls. on_headers(req) runs once the headers are in
 * and decides what happens to the body: buffer it (default, capped), stream it to a sink
 * callback (object PUT), or discard it (redirects). on_request(req) runs after the whole body
 * arrived and must queue exactly one response with http_send()/http_reply_*(). A response is
 * never queued on MHD's first access-handler call (docs/design.md §13.1: it forces
 * Connection: close), except for a big body behind Expect (http_answer_before_body()).
 *
 * Threads (docs/design.md §10): http_io_threads() I/O threads run all connections and call
 * on_headers, the body sink, and on_request of requests marked fast; these must never block
 * (no network, no waiting: local metadata and file I/O only). Every other on_request runs on a
 * worker thread while its connection is suspended, and may block as long as it likes. A
 * response body produced by another thread goes through http_stream_t, never a content reader
 * that blocks.
 */
#ifndef LOCUS_NET_NET_H
#define LOCUS_NET_NET_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

#define HTTP_MAX_CONTROL_BODY (64u << 20) /* JSON control bodies (e.g. 10k-name lists) */
/* A body that is refused (redirect, error) but no larger than this is read and dropped so the
 * connection is kept (http_answer_before_body()). */
#define HTTP_DRAIN_MAX (1u << 20)

typedef enum { BODY_BUFFER = 0, BODY_STREAM, BODY_DISCARD } body_mode_t;

typedef struct http_req_s http_req_t;
typedef int (*http_sink_cb)(http_req_t *req, const char *data, size_t n);

struct http_req_s {
    /* read-only */
    struct MHD_Connection *conn;
    const char *method;
    char *raw_path;         /* as received, still percent-encoded */
    char *path;             /* percent-decoded */
    char *raw_query;        /* "k=v&..." as received ("" if none) */
    int64_t content_length; /* -1 if absent */
    char remote[64];
    /* set by on_headers */
    bool fast; /* on_request never blocks: run it on the I/O thread (see DESIGN) */
    body_mode_t body_mode;
    http_sink_cb on_body; /* BODY_STREAM: returns 0 or -1 (then the body is discarded) */
    void *ctx;            /* handler state */
    void (*ctx_free)(http_req_t *req); /* called when the request ends, answered or not */
    /* body (BODY_BUFFER) */
    buf_t body;
    bool body_too_large;
    bool sink_failed;
    int64_t bytes_out; /* a handler sending an object's body says its size (metrics) */
    /* private */
    bool _answered;
    bool _headers_done;
    bool _offloaded; /* on_request runs on a worker */
    void *_server;
};

typedef void (*http_handler_cb)(http_req_t *req);

/* Request statistics (the node's metrics), set once before serving. tag is called when a
 * request's headers are in (they are valid then; not at the end) and returns what done gets
 * back; done is called as the request ends (on an I/O thread; it must not block) with the
 * status it was answered (0: none), how long since its headers came (ns, the response sent),
 * the request body bytes received, and whether the response went out whole. req->bytes_out is
 * what the handler said its response body holds. */
typedef int (*http_tag_cb)(http_req_t *req);
typedef void (*http_done_cb)(const http_req_t *req, int tag, unsigned status, int64_t ns,
                             int64_t bytes_in, bool ok);
void http_set_stats_hooks(http_tag_cb tag, http_done_cb done);

typedef struct http_server_s http_server_t;

/* The number of I/O threads of the servers started from now on: n (1..64), or 0 for the CPUs
 * this process may run on within [2, 16] (the default). */
void http_set_io_threads(int n);
unsigned http_io_threads(void);
/* How long an idle request worker waits for a request before it exits: 30 s by default (tests
 * shorten it to exercise workers that come and go). */
void http_set_worker_idle_ms(int ms);
/* Servers started from now on speak HTTPS with this certificate and key (PEM files). 0, or -1
 * with the reason in err when a file cannot be read. NULLs: plain HTTP (the default). */
int http_set_tls(const char *cert_file, const char *key_file, char *err, size_t errlen);

/* Starts listening on host:port. node_name is used in error bodies ("t[ID]"). NULL on error
 * (err filled). */
http_server_t *http_server_start(const char *host, int port, const char *node_name,
                                 http_handler_cb on_headers, http_handler_cb on_request, char *err,
                                 size_t errlen);
void http_server_stop(http_server_t *s);
/* The port the server listens on (the kernel's choice when started with port 0). */
int http_server_port(const http_server_t *s);

/* The request parsing that does not need a connection (the fuzzers and unit tests call these):
 * the decoded path of a raw request path ("/v1/objects/b/a%2Fb"), or NULL when an escape is
 * malformed or decodes to a NUL byte; and a query key or value decoded ('+' is a space; with a
 * malformed escape the text is kept as is, handlers validate values). Caller frees. */
char *http_path_decode(const char *raw);
char *http_query_decode(const char *s);

/* Request accessors. Returned strings are borrowed until the request ends. */
const char *http_header(http_req_t *req, const char *name);
/* Decoded query value ('+' = space) or NULL; borrowed until the request ends. */
const char *http_query(http_req_t *req, const char *name);
bool http_query_bool(http_req_t *req, const char *name);
/* For a request whose body will not be used (a 307 or an error): true when it should be answered
 * from on_headers, before its body. That is so only when the client waits for 100 Continue and the
 * body is over HTTP_DRAIN_MAX or of unknown length: the body is then never sent, and the
 * connection closes (docs/design.md §13.1). Otherwise on_headers sets BODY_DISCARD and on_request
 * answers: a small body costs less to read and drop than a new connection, and a client that does
 * not wait sends its body anyway. */
bool http_answer_before_body(http_req_t *req);

/* From a worker's on_request that has queued its response (a stream it keeps producing): lets
 * the I/O thread send it now instead of when on_request returns. req must not be touched after
 * (it may be freed at any time); a no-op on an I/O thread. */
void http_release(http_req_t *req);
/* Whether on_request runs on a worker, where http_release() lets a response go: false on an I/O
 * thread (a server stopping, or out of threads), where a streamed body would not leave before
 * on_request returns. */
bool http_releasable(const http_req_t *req);

/* Responses: exactly one per request, from on_request (or on_headers for early errors is NOT
 * allowed: set an error in ctx and answer in on_request). resp ownership passes to http_send. */
void http_send(http_req_t *req, unsigned status, struct MHD_Response *resp);
void http_reply(http_req_t *req, unsigned status, const char *ctype, const void *body, size_t n);
void http_reply_text(http_req_t *req, unsigned status, const char *text);
/* Steals the reference to j. */
void http_reply_json(http_req_t *req, unsigned status, json_t *j);
/* AIStore-shaped JSON error: {"message","method","url_path","remote_addr","caller","node",
 * "status"}. */
void http_reply_error(http_req_t *req, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The body of http_reply_error(): the JSON text of that error (caller frees). */
char *http_error_json(unsigned status, const char *msg, const char *method, const char *url_path,
                      const char *remote);
void http_reply_redirect(http_req_t *req, unsigned status, const char *location);
/* Node name used in error messages of this process ("p[ID]"/"t[ID]"). */
const char *http_node_name(void);
void http_set_node_name(const char *name);
/* Parses the buffered body as JSON; NULL with an error already answered (400) when malformed. */
json_t *http_body_json(http_req_t *req);

/* ---- responses produced by another thread (http_stream.c) ----
 * A producer thread writes the body with http_stream_write(), which blocks while the client is
 * behind (a ring of 256 KiB in between: bounded memory whatever the size); the I/O thread reads
 * it without blocking and suspends the connection while no data is ready. The producer ends the
 * stream with http_stream_end(ok): with ok false the response ends with an error (the client
 * sees a truncated transfer, never a silently short body). */
typedef struct http_stream_s http_stream_t;

/* A new stream, or NULL with errno set. The producer holds it until http_stream_end(). */
http_stream_t *http_stream_new(void);
/* Queues the stream as req's response: status, Content-Length when size >= 0 (else chunked or
 * until close), Content-Type ctype. Call once, from on_request. */
void http_stream_send(http_req_t *req, http_stream_t *st, unsigned status, int64_t size,
                      const char *ctype);
/* Releases the response side of a stream that will not be sent (the producer's writes then
 * fail). */
void http_stream_cancel(http_stream_t *st);
/* Producer: 0, or -1 when the client went away (or the stream was cancelled). */
int http_stream_write(http_stream_t *st, const void *p, size_t n);
/* The same for a producer that writes in small pieces: the I/O thread is woken only once a
 * block (64 KiB) is unread, or when the ring is full; call http_stream_flush() before waiting
 * for anything else, so that the client is not kept waiting for the bytes written so far. */
int http_stream_write_more(http_stream_t *st, const void *p, size_t n);
void http_stream_flush(http_stream_t *st);
/* Producer: the body is complete (ok) or failed; releases the producer's hold. */
void http_stream_end(http_stream_t *st, bool ok);

/* ---- upgraded connections (http_server.c) ----
 * A request that asked "Connection: Upgrade" and "Upgrade: <proto>" (HTTP/1.1) is answered
 * 101 Switching Protocols; then fn(arg, fd, extra, n) runs on a thread of its own with the
 * connection's socket fd (blocking; extra: n bytes the client sent after its request, read
 * already) and ends the connection by returning (it never closes fd). arg_free(arg) (may be
 * NULL) runs after fn, or when the 101 could not be sent. A stop of the server waits for
 * running sessions like for parked streams. Call once, from on_request, instead of answering. */
typedef void (*http_upgrade_fn)(void *arg, int fd, const char *extra, size_t n);
void http_upgrade(http_req_t *req, const char *proto, http_upgrade_fn fn, void *arg,
                  void (*arg_free)(void *));

/* ---- client ---- */

typedef struct {
    long status;
    buf_t body;
    char *location; /* owned, NULL if none */
    char *err;      /* owned transport error text, NULL if none */
} httpc_resp_t;

typedef struct {
    const char *name;
    const char *value;
} httpc_header_t;

/* http_stream_send with extra response headers (hdrs: NULL-terminated, copied; may be NULL). */
void http_stream_send_hdrs(http_req_t *req, http_stream_t *st, unsigned status, int64_t size,
                           const char *ctype, const httpc_header_t *hdrs);

void httpc_resp_init(httpc_resp_t *r);
void httpc_resp_dispose(httpc_resp_t *r);

/* Outgoing-request hook (intra-cluster signing, cluster/trust.c): called for every request of
 * httpc_do, httpc_json, httpc_put_fd and of a fan-out with its method, URL and body (body/len,
 * or fd >= 0 with fd_size bytes from offset fd_off for httpc_put_fd*; fd is -1 otherwise). Returns
 * header lines to add ("Name: value", a NULL-terminated array of strings, all freed by the
 * caller) or NULL. Set once at start-up, before any request; NULL removes it. */
typedef char **(*httpc_sign_cb)(const char *method, const char *url, const void *body, size_t len,
                                int fd, int64_t fd_off, int64_t fd_size);
void httpc_set_signer(httpc_sign_cb cb);

/* One request with an in-memory body (may be NULL). Does not follow redirects. timeout_ms 0 =
 * none. Returns 0 when an HTTP response arrived (any status), -1 on transport failure
 * (r->err set). Safe to call from any thread: uses a per-thread keep-alive handle. */
int httpc_do(const char *method, const char *url, const void *body, size_t len,
             const httpc_header_t *hdrs, int timeout_ms, httpc_resp_t *r);
/* GET through a Unix socket (url's host is ignored). Same returns as httpc_do. */
int httpc_get_unix(const char *sock_path, const char *url, int timeout_ms, httpc_resp_t *r);
/* JSON convenience: body is j (borrowed, may be NULL). */
int httpc_json(const char *method, const char *url, json_t *j, int timeout_ms, httpc_resp_t *r);
/* PUT of size bytes read from fd at offset 0 (streamed, no Expect). Same returns. */
int httpc_put_fd(const char *url, int fd, int64_t size, const httpc_header_t *hdrs, int timeout_ms,
                 httpc_resp_t *r);
/* GET whose body, when the answer is a 200, is written to fd at its offset (any other answer's
 * body goes to r->body). Same returns; a failed write is a transport failure. */
int httpc_get_fd(const char *url, int fd, int timeout_ms, httpc_resp_t *r);
/* The same with the size bytes of fd from offset off. */
int httpc_put_fd_range(const char *url, int fd, int64_t off, int64_t size,
                       const httpc_header_t *hdrs, int timeout_ms, httpc_resp_t *r);
/* A request whose answer is handed over as it arrives: each header line to on_header (name and
 * value trimmed, not NUL-terminated), then the body in pieces to on_body with the status;
 * on_body returns 0, or -1 to abort the transfer (then -1 with r->err). Same returns as
 * httpc_do; r->body stays empty. The request has body_len bytes of body (signed like
 * httpc_do's) when body is not NULL; stall_s > 0: the transfer fails when no byte moved for
 * that long (on top of timeout_ms, 0 = none: for long streams); buffer_size > 0: the size of
 * the pieces handed to on_body (libcurl's receive buffer, default 16 KiB). */
typedef struct {
    void (*on_header)(void *arg, const char *name, size_t nlen, const char *value, size_t vlen);
    int (*on_body)(void *arg, long status, const void *p, size_t n);
    void *arg;
    const void *body;
    size_t body_len;
    int stall_s;
    size_t buffer_size; /* the receive buffer (pieces up to that size); 0: libcurl's 16 KiB */
} httpc_cb_t;
int httpc_do_cb(const char *method, const char *url, const httpc_header_t *hdrs, int timeout_ms,
                const httpc_cb_t *cb, httpc_resp_t *r);
/* GET or HEAD (method) like httpc_do_cb, over this thread's own kept-alive sockets without
 * libcurl (http_lite.c): one send and the receives, nothing polled. For the hot relays (the S3
 * GET). Anything it does not do (https://, a request body, stall_s, another method) goes to
 * httpc_do_cb. */
int httpc_get_lite(const char *method, const char *url, const httpc_header_t *hdrs, int timeout_ms,
                   const httpc_cb_t *cb, httpc_resp_t *r);
/* A PUT of an in-memory body like httpc_do, the same way (the answer's body in r->body). */
int httpc_put_lite(const char *url, const void *body, size_t len, const httpc_header_t *hdrs,
                   int timeout_ms, httpc_resp_t *r);

/* A signed GET of url with body (len bytes) asking to switch the connection to proto
 * ("Connection: Upgrade", HTTP/1.1; the server side is http_upgrade()). On 101: the connected
 * socket (blocking, SO_RCVTIMEO and SO_SNDTIMEO timeout_ms; the caller closes it), r->status
 * 101, and the bytes that came after the answer's head appended to extra. Otherwise -1: the
 * answer's status and (the start of) its text in r->status and r->body, or a transport error in
 * r->err; -2 when url is not one this client speaks to (https://: use another way). */
int httpc_upgrade(const char *url, const httpc_header_t *hdrs, const void *body, size_t len,
                  const char *proto, int timeout_ms, httpc_resp_t *r, buf_t *extra);

/* The head of an HTTP/1.x answer, as httpc_head_parse() reads it. */
#define HTTPC_HEAD_MAX (16u << 10) /* a longer head is refused */
typedef struct {
    int status;
    int64_t content_length; /* -1: none */
    bool close;             /* the connection ends with this answer */
} httpc_head_t;
/* Parses the answer head at the start of p[0..n) (status line, header lines, empty line; CRLF
 * only, no folded lines, one Content-Length, no Transfer-Encoding: the answer to an HTTP/1.0
 * request). Calls on_header (may be NULL) for each header once the head is whole. Returns the
 * head's length, 0 when more bytes are needed, -1 when it is malformed. */
int httpc_head_parse(const char *p, size_t n, httpc_head_t *h,
                     void (*on_header)(void *arg, const char *name, size_t nlen, const char *value,
                                       size_t vlen),
                     void *arg);

/* This thread's keep-alive libcurl easy handle (a CURL *), reset to defaults; owned by the
 * thread (released by httpc_thread_cleanup or at thread exit). */
void *httpc_thread_curl(void);
/* Releases this thread's handle (call at thread exit in pools). */
void httpc_thread_cleanup(void);
void httpc_global_init(void);
/* The CA bundle (PEM file) that verifies the certificates of https:// peers from now on; NULL:
 * the system's store. Call before the first request (not synchronised). */
void httpc_set_tls_ca(const char *ca_file);

/* ---- WebSocket client (ws_client.c) ----
 * RFC 6455 client over TCP or a Unix socket: our own opening handshake, wslay for framing in
 * no-buffering mode, so neither direction ever holds a whole message: received data messages
 * are handed over in chunks as they arrive, and a message sent from a file is read from it
 * with pread while it is being sent. A connection is driven by one thread at a time (not
 * thread-safe); after any error it is unusable and must be closed. */

typedef struct ws_conn_s ws_conn_t;

#define WS_OP_TEXT 1
#define WS_OP_BINARY 2

/* Negative results of ws_recv_msg (err also says what happened). */
#define WS_ERR_CONN (-1)      /* connection lost, closed by the peer, or a protocol error */
#define WS_ERR_TIMEOUT (-2)   /* no progress for idle_timeout_ms */
#define WS_ERR_CANCELLED (-3) /* a callback returned < 0 */

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + RFC 6455 GUID)); out gets
 * 28 characters and a NUL. */
void ws_accept_key(const char *key, char out[29]);

/* Connects to host:port (a name or a numeric address) and upgrades GET <path>, all within
 * timeout_ms. NULL with err filled on failure (the server's status line when it refused the
 * upgrade). The caller owns the connection (ws_close). */
ws_conn_t *ws_connect_tcp(const char *host, int port, const char *path, int timeout_ms, char *err,
                          size_t errlen);
/* Same over the Unix socket sock_path (Host: localhost); socket buffers are enlarged for bulk
 * transfers (docs/design.md §13.9). */
ws_conn_t *ws_connect_unix(const char *sock_path, const char *path, int timeout_ms, char *err,
                           size_t errlen);
/* Sends a Close frame (1000) when the connection is still healthy, without waiting for the
 * answer, then closes the socket and frees c. NULL is a no-op. */
void ws_close(ws_conn_t *c);

/* Queues a data message (copied). Nothing is written until ws_recv_msg runs. 0 or -1. */
int ws_queue_msg(ws_conn_t *c, int opcode, const void *p, size_t n);
/* Queues a data message of size bytes read from fd at offset 0 while it is being sent
 * (fragmented into frames, never held in memory). fd is borrowed until the ws_recv_msg that
 * sends it returns. 0 or -1. */
int ws_queue_fd(ws_conn_t *c, int opcode, int fd, int64_t size);

/* Receive callbacks of one data message. on_start runs once per message with its opcode and
 * its length when known (a single-frame message), else -1; on_data runs for each piece of it,
 * in order (pieces of at most 64 KiB). Either returns 0, or < 0 to cancel (the connection is
 * then unusable). Pings are answered and pongs ignored inside ws_recv_msg. */
typedef struct {
    int (*on_start)(void *arg, int opcode, int64_t len);
    int (*on_data)(void *arg, const void *p, size_t n);
    void *arg;
} ws_msg_cb_t;

/* Sends everything queued and receives exactly one data message, both at once (the peer may
 * answer while it is still reading). Returns 0 when the message arrived and all queued data is
 * sent, else WS_ERR_* with err filled. idle_timeout_ms bounds the time without any progress in
 * either direction (<= 0: wait forever). */
int ws_recv_msg(ws_conn_t *c, const ws_msg_cb_t *cb, int idle_timeout_ms, char *err, size_t errlen);
/* Peer name for messages ("127.0.0.1:8001" or the socket path); borrowed while c lives. */
const char *ws_peer(const ws_conn_t *c);

#endif
