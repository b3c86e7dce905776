/*
 * scenarios.c -- the table of lab scenarios: name, family, title, the
 * kernel behaviour each one checks (kernel-truth.md) and the rule a program
 * should follow. Scenario NAME runs scenario_NAME(), in the scen-*.c file
 * of its family (lab.c's header comment lists them). The order here is the
 * order of `--list` and of docs/kernel-truth.md.
 */
#include "lab.h"

#define FIN_RULE                                                              \
	"recv() == 0 (or EPOLLRDHUP) means the peer will send nothing more; " \
	"it may still read (half-close)."
#define RST_RULE                                                              \
	"Treat ECONNRESET and EPIPE alike; the error is handed out once, so " \
	"keep it (hu_probe/hu_recv do) or a later recv() reads as EOF."

#define URING_FIN_RULE                                                      \
	"A recv completion with res == 0 is the peer's FIN; res < 0 is an " \
	"error (-res is the errno); errno itself is never set."
#define URING_RST_RULE                                                      \
	"res=-ECONNRESET comes once: keep it, as with recv(); a multishot " \
	"recv ends with it (F_MORE clear)."
#define URING_END_RULE                                                         \
	"A multishot ends with F_MORE clear; -ENOBUFS and -ECANCELED end the " \
	"request, not the connection: re-arm (after giving buffers back). "    \
	"Only res == 0 or another error is the peer gone."

const struct lab_scenario lab_scenarios[] = {
    {"peer-close", "peer-close", "Peer close() with nothing pending",
     "The peer's FIN: recv() returns 0, again and again; epoll IN+OUT+RDHUP "
     "(no HUP, no ERR); CLOSE_WAIT.",
     FIN_RULE, scenario_peer_close, 0, 0},
    {"data-then-close", "data-then-close", "Peer sends data, then close()",
     "The FIN queues behind the data: recv() returns the data first, then 0.",
     "Read until recv() returns 0; the data before the FIN is never lost.",
     scenario_data_then_close, 0, 0},
    {"write-after-close", "write-after-close",
     "Writing after the peer closed: RST, then EPIPE",
     "The first send() after the FIN succeeds and draws an RST from the "
     "orphaned peer; the next fails with EPIPE (an RST in CLOSE_WAIT sets "
     "EPIPE, not ECONNRESET), and so does every later one.",
     "Always MSG_NOSIGNAL; notice the FIN (RDHUP) before writing; treat "
     "EPIPE and ECONNRESET alike.",
     scenario_write_after_close, 0, 0},
    {"write-after-close-so-error", "write-after-close",
     "Writing after the peer closed: the error the RST leaves",
     "After the FIN, recv() and MSG_PEEK keep returning 0 and never report "
     "the RST; SO_ERROR holds EPIPE once.",
     RST_RULE, scenario_write_after_close_so_error, 0, 0},
    {"write-after-close-sigpipe", "write-after-close",
     "Writing after the peer closed, without MSG_NOSIGNAL: SIGPIPE",
     "A forked child with the default SIGPIPE disposition: its first write() "
     "succeeds, its second kills it with SIGPIPE (signal 13).",
     "Use MSG_NOSIGNAL (hu_send does) or ignore SIGPIPE.",
     scenario_write_after_close_sigpipe, 0, 0},
    {"write-after-close-hangup", "write-after-close",
     "Writing after the peer closed, through hangup",
     "hu_probe sees the FIN before any write (HU_EOF); after the late write "
     "it reports HU_PIPE and keeps the error; hu_recv still says HU_EOF.",
     "Probe (or watch RDHUP) before writing to a peer that may have gone.",
     scenario_write_after_close_hangup, 0, 0},
    {"half-close", "half-close", "Peer shutdown(SHUT_WR): half-close",
     "We read EOF but can still send; the half-closed peer still receives, "
     "cannot send (EPIPE); no RST. Our close() then ends both directions "
     "(HUP).",
     FIN_RULE, scenario_half_close, 0, 0},
    {"unread-close", "unread-close",
     "Peer close() with unread data: RST, data destroyed; we recv first",
     "Closing with unread data sends RST instead of FIN and destroys the "
     "unread bytes; our queued data is still returned first, then "
     "ECONNRESET once, then 0.",
     RST_RULE, scenario_unread_close, 0, 0},
    {"unread-close-send-first", "unread-close",
     "Peer close() with unread data; we send first",
     "send() takes the ECONNRESET, the next send() gets EPIPE; recv() then "
     "returns our data and 0 -- never the reset.",
     RST_RULE, scenario_unread_close_send_first, 0, 0},
    {"unread-close-so-error", "unread-close",
     "Peer close() with unread data; we read SO_ERROR first",
     "SO_ERROR hands out ECONNRESET and clears it: recv() then returns the "
     "data and 0, exactly like an orderly close.",
     RST_RULE, scenario_unread_close_so_error, 0, 0},
    {"unread-close-hangup", "unread-close",
     "Peer close() with unread data, through hangup",
     "hu_probe takes the reset (HU_RESET) and keeps it: hu_recv returns the "
     "data, then HU_RESET where a raw recv() would return 0.",
     RST_RULE, scenario_unread_close_hangup, 0, 0},
    {"unread-close-graceful", "unread-close",
     "Closing with unread data, gracefully (hu_close_graceful)",
     "hu_close_graceful shuts down writing and reads (discarding) until "
     "the peer's FIN: FIN both ways, no RST, and the peer got everything.",
     "Close with hu_close_graceful when the peer may still be sending; a "
     "bare close() with unread data sends RST and destroys what was unsent.",
     scenario_unread_close_graceful, 0, 0},
    {"abortive-close", "abortive-close",
     "Abortive close (SO_LINGER {1,0}); we recv first",
     "RST, no FIN: CLOSE, epoll IN+OUT+RDHUP+HUP+ERR; recv() gets "
     "ECONNRESET once, then 0; send() EPIPE.",
     RST_RULE, scenario_abortive_close, 0, 0},
    {"abortive-close-so-error", "abortive-close",
     "Abortive close; SO_ERROR first",
     "SO_ERROR takes the ECONNRESET; recv() then returns 0 -- only HUP "
     "(both directions done) still tells it from an orderly EOF.",
     RST_RULE, scenario_abortive_close_so_error, 0, 0},
    {"abortive-close-peek", "abortive-close",
     "Abortive close; recv(MSG_PEEK) first",
     "A peek consumes the pending error just like recv(): ECONNRESET once, "
     "then 0.",
     RST_RULE, scenario_abortive_close_peek, 0, 0},
    {"abortive-close-send-first", "abortive-close",
     "Abortive close; send first",
     "send() gets ECONNRESET, the next send() EPIPE, recv() 0.", RST_RULE,
     scenario_abortive_close_send_first, 0, 0},
    {"abortive-close-data", "abortive-close",
     "Peer sends data, then aborts: is the data still readable?",
     "Yes: data that arrived before the RST is returned first, then "
     "ECONNRESET, then 0.",
     RST_RULE, scenario_abortive_close_data, 0, 0},
    {"abortive-close-hangup", "abortive-close",
     "Abortive close (hu_abort), seen through hangup",
     "hu_abort sends RST; hu_probe says gone/HU_RESET, and hu_recv still "
     "says HU_RESET after the probe consumed the kernel's error.",
     RST_RULE, scenario_abortive_close_hangup, 0, 0},
    {"peer-killed", "peer-killed", "Peer process SIGKILLed, nothing unread",
     "The kernel closes a killed process's sockets like close(): FIN; we "
     "see EOF and CLOSE_WAIT.",
     FIN_RULE, scenario_peer_killed, 0, 0},
    {"peer-killed-unread", "peer-killed",
     "Peer process SIGKILLed with unread data",
     "Like close() with unread data: RST; we see ECONNRESET once.", RST_RULE,
     scenario_peer_killed_unread, 0, 0},
    {"dead-peer-idle", "dead-peer", "Dead peer, idle, no liveness",
     "A peer that vanished (all TCP dropped) is reported by nothing at all: "
     "OUT only, ESTABLISHED, SO_ERROR 0, peek EAGAIN.",
     "Arm keepalive and TCP_USER_TIMEOUT together (hu_liveness).",
     scenario_dead_peer_idle, 1, 4},
    {"dead-peer-idle-liveness", "dead-peer",
     "Dead peer, idle, with hu_liveness(2000)",
     "Keepalive probes go unanswered; the connection dies within about "
     "2 s: epoll IN+RDHUP+HUP+ERR, CLOSE, ETIMEDOUT once (HU_TIMEOUT).",
     "Arm keepalive and TCP_USER_TIMEOUT together (hu_liveness).",
     scenario_dead_peer_idle_liveness, 1, 3},
    {"dead-peer-busy", "dead-peer",
     "Dead peer, unacknowledged data, no liveness",
     "The data is retransmitted with exponential backoff; nothing is "
     "reported for ~15 minutes (tcp_retries2 = 15).",
     "Keepalive never fires with data in flight: TCP_USER_TIMEOUT covers "
     "this case (hu_liveness sets both).",
     scenario_dead_peer_busy, 1, 4},
    {"dead-peer-busy-liveness", "dead-peer",
     "Dead peer, unacknowledged data, with hu_liveness(2000)",
     "TCP_USER_TIMEOUT ends it about 2 s after the first retransmission: "
     "epoll IN+RDHUP+HUP+ERR, the first call gets ETIMEDOUT.",
     "Arm keepalive and TCP_USER_TIMEOUT together (hu_liveness).",
     scenario_dead_peer_busy_liveness, 1, 3},
    {"dead-peer-busy-keepalive", "dead-peer",
     "Dead peer, unacknowledged data, keepalive only",
     "Keepalive never probes while data is unacknowledged: with idle 1 s, "
     "interval 1 s and 3 probes it ends an idle connection after ~4 s, but "
     "here nothing is reported after 5 s.",
     "Keepalive alone does not cover a busy connection; add "
     "TCP_USER_TIMEOUT (hu_liveness sets both).",
     scenario_dead_peer_busy_keepalive, 1, 5},
    {"dead-peer-idle-user-timeout", "dead-peer",
     "Dead peer, idle, TCP_USER_TIMEOUT only",
     "TCP_USER_TIMEOUT alone never fires on an idle connection (nothing is "
     "in flight to time out): nothing is reported after 4 s.",
     "TCP_USER_TIMEOUT alone does not cover an idle connection; add "
     "keepalive (hu_liveness sets both).",
     scenario_dead_peer_idle_user_timeout, 1, 4},
    {"connect-refused", "connect", "Non-blocking connect() to a closed port",
     "connect() returns -1/EINPROGRESS even though loopback refused it "
     "before the call returned; SO_ERROR then says ECONNREFUSED once; a "
     "later connect() gets ECONNABORTED.",
     "Wait for EPOLLOUT, then read SO_ERROR: 0 connected, else the error.",
     scenario_connect_refused, 0, 0},
    {"connect-refused-again", "connect",
     "Refused connect() detected with a second connect()",
     "The second connect() reports the pending ECONNREFUSED; a third starts "
     "a brand-new attempt (EINPROGRESS).",
     "Do not retry connect() on the same socket to learn the result.",
     scenario_connect_refused_again, 0, 0},
    {"connect-refused-blocking", "connect",
     "Blocking connect() to a closed port", "ECONNREFUSED directly.",
     "HU_REFUSED: nobody listens there.", scenario_connect_refused_blocking, 0,
     0},
    {"connect-ok", "connect", "Non-blocking connect() to a listener",
     "EINPROGRESS although already ESTABLISHED; SO_ERROR 0; connect() again "
     "returns 0, then EISCONN.",
     "EINPROGRESS is the only legitimate place for that errno.",
     scenario_connect_ok, 0, 0},
    {"connect-in-progress", "connect",
     "connect() genuinely in progress (SYN dropped)",
     "No epoll events at all (not even OUT), SYN_SENT; connect() again "
     "EALREADY; send/recv EAGAIN; SO_ERROR 0; completes (EPOLLOUT) on the "
     "SYN retransmission once packets flow again.",
     "Completion is EPOLLOUT, then SO_ERROR decides.",
     scenario_connect_in_progress, 1, 2},
    {"unix-close", "unix", "Unix stream socket: peer close()",
     "IN+OUT+RDHUP+HUP at once (HUP even for an orderly close); recv() 0; "
     "the FIRST send() fails with EPIPE.",
     "On Unix sockets HUP is not a reset; the first write already fails.",
     scenario_unix_close, 0, 0},
    {"unix-data-close", "unix", "Unix stream socket: data, then close()",
     "The data is read first, then 0.", FIN_RULE, scenario_unix_data_close, 0,
     0},
    {"unix-unread-close", "unix",
     "Unix stream socket: peer closes with unread data",
     "Our queued data first, then ECONNRESET once (ERR set), then 0.", RST_RULE,
     scenario_unix_unread_close, 0, 0},
    {"unix-half-close", "unix", "Unix stream socket: shutdown(SHUT_WR)",
     "EOF for us, IN+OUT+RDHUP; we can still send and the peer receives.",
     FIN_RULE, scenario_unix_half_close, 0, 0},
    {"unix-sigpipe", "unix", "Unix stream socket: write() after close",
     "Already the first write() after the peer's close raises SIGPIPE.",
     "Use MSG_NOSIGNAL (hu_send does) or ignore SIGPIPE.",
     scenario_unix_sigpipe, 0, 0},
    {"epoll-et-lt", "epoll",
     "Edge- vs level-triggered epoll: data, then FIN while unread",
     "The FIN is one ET edge (IN+RDHUP), not repeated while data remains; "
     "LT repeats IN+RDHUP until close.",
     "With EPOLLET read until EAGAIN or 0 on every edge.", scenario_epoll_et_lt,
     0, 0},
    {"epoll-et-combined", "epoll",
     "Edge-triggered epoll: data and FIN before the first wait",
     "One combined edge IN+RDHUP.",
     "With EPOLLET read until EAGAIN or 0 on every edge.",
     scenario_epoll_et_combined, 0, 0},
    {"epoll-et-add-after-fin", "epoll",
     "Edge-triggered registration after the FIN arrived",
     "EPOLL_CTL_ADD reports the current state once (IN+RDHUP).",
     "Registering late loses nothing.", scenario_epoll_et_add_after_fin, 0, 0},
    {"epoll-et-rst-edge", "epoll", "Edge-triggered epoll: the RST after EOF",
     "A later RST is a new edge: IN+RDHUP+HUP+ERR.",
     "Keep the socket registered after EOF if you still write.",
     scenario_epoll_et_rst_edge, 0, 0},
    {"reset-before-accept", "accept",
     "Client resets before the server calls accept()",
     "Linux returns the connection anyway (no ECONNABORTED): already CLOSE "
     "with HUP+ERR, getpeername() ENOTCONN, recv() ECONNRESET, then 0.",
     "An accepted socket can be dead already: handle it like any reset.",
     scenario_reset_before_accept, 0, 0},
    {"reset-before-accept-data", "accept",
     "Client sends data, then resets, before accept()",
     "recv() returns the data sent before the RST, then ECONNRESET, then 0.",
     RST_RULE, scenario_reset_before_accept_data, 0, 0},
    {"fin-before-accept", "accept", "Client closes normally before accept()",
     "accept() works, CLOSE_WAIT, recv() 0; a late send() draws RST, then "
     "EPIPE.",
     FIN_RULE, scenario_fin_before_accept, 0, 0},
    {"accept-queue-full", "accept", "Full accept queue: listen(fd, 0)",
     "Backlog 0 admits one connection; a second SYN is silently dropped, "
     "the client sits in SYN_SENT with no events and connects on its SYN "
     "retransmission (~1 s) once the queue has room.",
     "A slow accept() shows up as connect latency, not as an error.",
     scenario_accept_queue_full, 0, 0},
    {"uring-recv-fin", "io_uring", "io_uring recv: data, then the FIN",
     "One-shot IORING_OP_RECV completions: res=5 (the data), then res=0 "
     "(the FIN), and res=0 again for every new recv. F_SOCK_NONEMPTY is set "
     "on both: the kernel counts a pending FIN as something to read.",
     URING_FIN_RULE, scenario_uring_recv_fin, 0, 0},
    {"uring-multishot-fin", "io_uring",
     "io_uring multishot recv: data, then the FIN",
     "Each message is a completion with F_MORE and F_BUFFER set (a buffer "
     "id); the FIN is the last completion: res=0, F_MORE clear, no buffer. "
     "Nothing comes after it.",
     URING_FIN_RULE, scenario_uring_multishot_fin, 0, 0},
    {"uring-recv-rst", "io_uring",
     "io_uring recv: the peer closes with unread data (RST)",
     "Data that arrived before the RST is completed first (res=3), then "
     "res=-ECONNRESET once, then res=0: the same order and the same "
     "once-only error as recv().",
     URING_RST_RULE, scenario_uring_recv_rst, 0, 0},
    {"uring-multishot-rst", "io_uring",
     "io_uring multishot recv armed when the peer aborts",
     "A data completion with F_MORE, then the RST as the last completion: "
     "res=-ECONNRESET, F_MORE clear. A new recv then completes with 0.",
     URING_RST_RULE, scenario_uring_multishot_rst, 0, 0},
    {"uring-multishot-rst-unread", "io_uring",
     "io_uring multishot recv armed after the data and the RST arrived",
     "The data is not lost: the first completion is the data (F_MORE set), "
     "the next -ECONNRESET with F_MORE clear.",
     URING_RST_RULE, scenario_uring_multishot_rst_unread, 0, 0},
    {"uring-recv-fin-then-rst", "io_uring",
     "io_uring: the FIN, then an RST drawn by our send",
     "recv completes with 0; an IORING_OP_SEND after the FIN completes "
     "with 1 and draws an RST; recv still completes with 0 (after a FIN the "
     "RST is never reported by recv); the next send completes with -EPIPE "
     "and raises no SIGPIPE (io_uring sends with MSG_NOSIGNAL).",
     "After res=0, stop sending: a send completes with -EPIPE (or "
     "-ECONNRESET), never a signal; treat both as the peer gone.",
     scenario_uring_recv_fin_then_rst, 0, 0},
    {"uring-multishot-enobufs", "io_uring",
     "io_uring multishot recv: out of provided buffers",
     "Two 16-byte buffers and 40 bytes queued: two completions of 16 with "
     "F_MORE, then res=-ENOBUFS with F_MORE clear while the socket is still "
     "ESTABLISHED with 8 bytes unread. With the buffers given back and the "
     "recv re-armed, the 8 bytes come; only res=0 is the peer's close.",
     URING_END_RULE, scenario_uring_multishot_enobufs, 0, 0},
    {"uring-multishot-cancel", "io_uring",
     "io_uring multishot recv: cancelled (IORING_OP_ASYNC_CANCEL)",
     "The cancel completes with res=0, the multishot with res=-ECANCELED "
     "and F_MORE clear; the connection is untouched: no FIN, no RST, and a "
     "new recv reads what the peer sends next.",
     URING_END_RULE, scenario_uring_multishot_cancel, 0, 0},
    {"uring-close-with-armed-recv", "io_uring",
     "io_uring: close() while a multishot recv is armed",
     "close() returns 0 but sends no FIN: the armed request holds its own "
     "reference to the socket, so the peer still sees ESTABLISHED. Only "
     "when the cancel completes (res=0, then the recv's -ECANCELED) is the "
     "last reference gone and the FIN sent.",
     "close() with a request armed does not close the connection: cancel "
     "the fd's requests (or shutdown()) first, and free the connection "
     "only after the last completion (F_MORE clear).",
     scenario_uring_close_with_armed_recv, 0, 0},
    {"uring-shutdown-armed-recv", "io_uring",
     "io_uring: shutdown(SHUT_RDWR) while a multishot recv is armed",
     "shutdown() acts on the socket, not the fd: the FIN goes out at once "
     "(FIN_WAIT2, the peer CLOSE_WAIT) and the armed recv ends with res=0, "
     "F_MORE clear -- our own SHUT_RD reads as EOF.",
     "To end a connection with requests armed, shutdown() it: they "
     "complete, then close().",
     scenario_uring_shutdown_armed_recv, 0, 0},
    {"uring-dead-peer", "io_uring",
     "io_uring: dead peer, idle, multishot recv armed",
     "With keepalive 1/1/3 and TCP_USER_TIMEOUT=3000 the armed recv ends "
     "about 3 s after keepalive was armed: res=-ETIMEDOUT, F_MORE clear; "
     "epoll IN+OUT+RDHUP+HUP, CLOSE. A new recv then completes with 0.",
     "An armed recv waits forever for a dead peer unless keepalive and "
     "TCP_USER_TIMEOUT are set (hu_liveness); -ETIMEDOUT is the peer gone.",
     scenario_uring_dead_peer, 1, 4},
    {"uring-dead-peer-busy", "io_uring",
     "io_uring: dead peer, unacknowledged send, recv armed",
     "The send completes at once (res=100: queued, not delivered); the "
     "data is retransmitted unanswered and TCP_USER_TIMEOUT=3000 ends the "
     "connection about 3.4 s after the send: the armed recv completes with "
     "-ETIMEDOUT.",
     "A send's completion means queued, not received; only a recv "
     "completion (or keepalive + TCP_USER_TIMEOUT) tells of a dead peer.",
     scenario_uring_dead_peer_busy, 1, 4},
    {"myth-recv-eagain", "myths",
     "Myth: \"recv() == 0 and errno == EAGAIN means the peer closed\"",
     "False. recv() returning 0 never writes errno: after a real close it "
     "was 0 in one call and a stale EAGAIN in the next. -1/EAGAIN on a live "
     "connection only means no data now.",
     "recv() > 0 data; == 0 the peer's FIN (EOF); -1 with EAGAIN nothing "
     "now; -1 otherwise an error. Look at errno only after -1.",
     scenario_myth_recv_eagain, 0, 0},
    {"myth-send-einprogress", "myths",
     "Myth: \"send() > 0 and errno == EINPROGRESS means the peer closed\"",
     "False. A live connection had send() == 1 with errno EINPROGRESS, left "
     "by connect(); after a real close send() succeeded with errno 0.",
     "send() >= 0 says nothing about the peer. Learn of the FIN from "
     "EPOLLRDHUP or recv() == 0; the failure comes later as EPIPE or "
     "ECONNRESET. EINPROGRESS belongs to connect() alone.",
     scenario_myth_send_einprogress, 0, 0},
    /*
     * TEST ONLY, and last: run by the undocumented --self-test-mismatch
     * (tests/t-lab.sh), never listed, never in a default run, never in the
     * document. Its expectations are deliberately wrong, so the test suite
     * can see that a mismatch is printed plainly and makes the exit status
     * non-zero -- without that check, a lab that never fails would pass.
     */
    {"self-test-mismatch", "self-test",
     "TEST ONLY: a deliberately wrong expectation",
     "(Deliberately wrong, to test the lab itself:) after the peer's close() "
     "recv() fails with ECONNRESET and the packets show an RST and no FIN.",
     "None: this scenario exists to fail.", scenario_self_test_mismatch, 0, 0},
};

const int lab_nscenarios =
    (int)(sizeof(lab_scenarios) / sizeof(lab_scenarios[0])) - 1;
