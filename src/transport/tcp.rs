//! Plain TCP under ureq (and under ureq's rustls layer and our proxy tunnels, which chain
//! onto it): ureq's own `TcpConnector` with four changes, for a kept-alive request in three system
//! calls (one write, one read, one peek) instead of eleven:
//!
//! * One write per request. ureq hands the transport the request head and then the body in
//!   two `transmit_output` calls (ureq 3.5 `run.rs`: `send_request`, then `send_body`; through
//!   TLS, two records). Output is held until the transport is asked for input (the answer),
//!   or until a buffer's worth is waiting, and then written at once. The buffer ureq writes
//!   into is the free space after the held bytes, so nothing is copied to coalesce.
//! * Socket timeouts are set only when they must change: when the time left is shorter than
//!   the one the socket has (else a read could outlive the deadline). A timeout is set rounded
//!   down to the millisecond, so the next request's slightly shorter deadline (microseconds
//!   later) keeps it. A socket that gives up before the deadline is told the time left and
//!   read again, so a timeout still fires at the deadline, not before, not later.
//! * A pooled connection's liveness is one non-blocking peek (`recv(MSG_PEEK | MSG_DONTWAIT)`),
//!   not ureq's two `ioctl(FIONBIO)` around a read; and only when the connection is taken from
//!   the pool. ureq also probes when it puts a connection back, right after reading a complete
//!   answer: that probe is answered without a system call (the probe on taking covers it).
//! * Its buffers are wiped: the output once written, the input once consumed, both when the
//!   connection is dropped. They hold the request head (the `Authorization` header, the form
//!   body) and the answer (the token) in plain text.

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, ShutdownHandle, Transport,
};
use ureq::{Error, Timeout};
use zeroize::Zeroize as _;

/// Connects plain TCP sockets to the resolved addresses; passes a chained transport (a proxy
/// tunnel, itself over a connection made here) through untouched.
#[derive(Debug, Default)]
pub(crate) struct TcpConnector;

impl<In: Transport> Connector<In> for TcpConnector {
    type Out = Either<In, TcpTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        if let Some(transport) = chained {
            return Ok(Some(Either::A(transport)));
        }
        let stream = connect(details.addrs.iter().copied(), details.timeout)?;
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        let transport = TcpTransport::new(
            stream,
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        (details.register_shutdown)(transport.shutdown_handle())?;
        Ok(Some(Either::B(transport)))
    }
}

/// Tries the addresses in order, each with a share of the connect timeout that halves from
/// one address to the next (as ureq 3.5 and curl do), the next one only when this one refused
/// or was unreachable or took its share.
fn connect(
    addrs: impl ExactSizeIterator<Item = SocketAddr>,
    timeout: NextTimeout,
) -> Result<TcpStream, Error> {
    let start = Instant::now();
    let total = timeout.not_zero().map(|t| *t);
    let n = addrs.len() as i32;
    let total_weight = 2.0 * (1.0 - 0.5_f64.powi(n));
    let mut weight = 1.0_f64;
    let mut last = None;
    for addr in addrs {
        let result = match total {
            Some(t) => {
                let share = Duration::from_secs_f64(t.as_secs_f64() * weight / total_weight);
                TcpStream::connect_timeout(&addr, share.max(Duration::from_millis(10)))
            }
            None => TcpStream::connect(addr),
        };
        weight /= 2.0;
        match result {
            Ok(stream) => return Ok(stream),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                if total.is_some_and(|t| start.elapsed() >= t) {
                    return Err(Error::Timeout(timeout.reason));
                }
                last = Some(Error::Timeout(Timeout::Connect));
            }
            Err(e) if is_addr_specific(&e) => last = Some(Error::Io(e)),
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Err(last.unwrap_or_else(|| {
        Error::Io(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "Connection refused",
        ))
    }))
}

fn is_addr_specific(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::NetworkDown
            | io::ErrorKind::AddrNotAvailable
    )
}

/// One TCP connection: its socket, its wiped buffers, the timeouts the socket has now.
pub(crate) struct TcpTransport {
    /// In an `Arc` so that ureq's shutdown handle (agent shutdown) can share it weakly.
    stream: Arc<TcpStream>,
    buffers: WipedBuffers,
    read_timeout: SocketTimeout,
    write_timeout: SocketTimeout,
    /// The deadline of the output held in the buffer, and what to report when it passes.
    pending_deadline: Option<(Option<Instant>, Timeout)>,
    /// Whether the connection did I/O since the last liveness probe.
    used: bool,
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport")
            .field("peer", &self.stream.peer_addr().ok())
            .finish_non_exhaustive()
    }
}

impl TcpTransport {
    fn new(stream: TcpStream, input_size: usize, output_size: usize) -> TcpTransport {
        TcpTransport {
            stream: Arc::new(stream),
            buffers: WipedBuffers::new(input_size, output_size),
            read_timeout: SocketTimeout::default(),
            write_timeout: SocketTimeout::default(),
            pending_deadline: None,
            used: false,
        }
    }

    fn shutdown_handle(&self) -> Weak<dyn ShutdownHandle> {
        Arc::downgrade(&self.stream) as Weak<dyn ShutdownHandle>
    }

    /// Writes the held output, by its deadline, and wipes it.
    fn flush(&mut self) -> Result<(), Error> {
        let Some((deadline, reason)) = self.pending_deadline.take() else {
            return Ok(());
        };
        let stream = &*self.stream;
        let mut written = 0;
        let held = self.buffers.pending;
        let result = loop {
            if written == held {
                break Ok(());
            }
            if let Err(e) = self
                .write_timeout
                .update(deadline, reason, |t| stream.set_write_timeout(t))
            {
                break Err(e);
            }
            match (&*self.stream).write(&self.buffers.output[written..held]) {
                Ok(0) => break Err(io::Error::from(io::ErrorKind::WriteZero).into()),
                Ok(n) => written += n,
                Err(e) if is_timeout_or_interrupt(&e) => {}
                Err(e) => break Err(e.into()),
            }
        };
        self.buffers.output[..held].zeroize();
        self.buffers.pending = 0;
        result
    }
}

fn is_timeout_or_interrupt(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// When `timeout` (a duration from now) ends; `None`: never.
fn deadline_of(timeout: NextTimeout) -> Option<Instant> {
    match timeout.after {
        UreqDuration::NotHappening => None,
        UreqDuration::Exact(d) => Some(Instant::now() + d),
    }
}

impl Transport for TcpTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        let timeout = timeout.for_write();
        if timeout.after.is_zero() {
            return Err(Error::Timeout(timeout.reason));
        }
        self.used = true;
        self.buffers.transmitted(amount);
        // The earliest deadline of what is held (each piece's own, in practice the last's).
        let deadline = deadline_of(timeout);
        self.pending_deadline = Some(match self.pending_deadline {
            Some((Some(held), reason)) if deadline.is_none_or(|d| held <= d) => {
                (Some(held), reason)
            }
            _ => (deadline, timeout.reason),
        });
        if self.buffers.pending >= self.buffers.output_size {
            self.flush()?;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.flush()?;
        let timeout = timeout.for_read();
        if timeout.after.is_zero() {
            return Err(Error::Timeout(timeout.reason));
        }
        self.used = true;
        let deadline = deadline_of(timeout);
        let stream = &*self.stream;
        let input = self.buffers.input_append_buf();
        let amount = loop {
            self.read_timeout
                .update(deadline, timeout.reason, |t| stream.set_read_timeout(t))?;
            match (&*self.stream).read(input) {
                Ok(n) => break n,
                // Without a deadline an interrupted read is the caller's signal (as ureq).
                Err(e) if e.kind() == io::ErrorKind::Interrupted && deadline.is_none() => {
                    return Err(e.into())
                }
                Err(e) if is_timeout_or_interrupt(&e) => {}
                Err(e) => return Err(e.into()),
            }
        };
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        if std::mem::take(&mut self.used) {
            // ureq 3.5 probes a connection as it goes back to the pool, right after reading a
            // complete answer (`pool.rs`, `Connection::reuse`), and again when it is taken
            // out (`Pool::get`). The second probe sees whatever the first would have (bytes
            // the server sent after the answer, or its close) and more: skip the first.
            // The answer is consumed: wipe it now rather than when the next one comes.
            self.buffers.wipe_consumed_input();
            return self.pending_deadline.is_none();
        }
        peek::is_idle(&self.stream)
    }
}

/// The timeout a socket has, and the rule for changing it.
#[derive(Debug, Default)]
struct SocketTimeout {
    /// What the socket has: `None` blocks without limit.
    current: Option<Duration>,
}

impl SocketTimeout {
    /// Gives the socket a timeout that ends no later than `deadline`, with a system call only
    /// when the one it has could end later than that (or is far shorter: a stale, nearly
    /// spent deadline from an earlier request). Past the deadline: `Error::Timeout(reason)`.
    fn update(
        &mut self,
        deadline: Option<Instant>,
        reason: Timeout,
        set: impl FnOnce(Option<Duration>) -> io::Result<()>,
    ) -> Result<(), Error> {
        let wanted = match deadline {
            None => None,
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return Err(Error::Timeout(reason)),
            },
        };
        let next = match (self.current, wanted) {
            (None, None) => return Ok(()),
            (Some(have), Some(left)) if have <= left && have >= left / 2 => return Ok(()),
            (_, None) => None,
            // Whole milliseconds, so that the next request's deadline (a few microseconds
            // shorter) keeps it; below one, the time left as it is.
            (_, Some(left)) => Some(match Duration::from_millis(left.as_millis() as u64) {
                ms if ms.is_zero() => left,
                ms => ms,
            }),
        };
        set(next)?;
        self.current = next;
        Ok(())
    }
}

/// The liveness probe of an idle connection.
mod peek {
    use std::net::TcpStream;

    /// Whether an idle connection can carry a request: nothing to read (no early answer, no
    /// garbage) and no end or error from the peer. One `recv(MSG_PEEK | MSG_DONTWAIT)`: the
    /// socket stays blocking, so there is nothing to restore. libc rather than socket2: libc
    /// is a dependency already, socket2 would be a new one for one call.
    #[cfg(unix)]
    #[allow(unsafe_code)]
    pub(super) fn is_idle(stream: &TcpStream) -> bool {
        use std::os::fd::AsRawFd as _;
        let mut byte = 0u8;
        // SAFETY: `stream` owns the open socket `fd` for the duration of the call; `byte` is
        // a live, writable 1-byte buffer on our stack and the length passed is 1. recv()
        // with MSG_PEEK writes at most that byte and keeps no pointer after it returns.
        let n = unsafe {
            libc::recv(
                stream.as_raw_fd(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n < 0 && {
            let e = std::io::Error::last_os_error();
            e.kind() == std::io::ErrorKind::WouldBlock
        }
    }

    /// Windows has no per-call non-blocking flag: the socket is made non-blocking for the peek.
    #[cfg(not(unix))]
    pub(super) fn is_idle(stream: &TcpStream) -> bool {
        if stream.set_nonblocking(true).is_err() {
            return false;
        }
        let idle =
            matches!(stream.peek(&mut [0u8]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
        stream.set_nonblocking(false).is_ok() && idle
    }
}

/// ureq's `Buffers` over memory that is wiped: the output once written, the input once
/// consumed, both when dropped. Allocated on first use, zeroed, and smaller than ureq's
/// (128 KiB each way, zeroed again for every new connection, cost more than a plain-HTTP
/// request): the input starts at 16 KiB and doubles up to ureq's input size when an answer
/// needs it; the output is two chunks of at most 32 KiB, so that held output (less than a
/// chunk) and the space ureq writes into (at least a chunk: ureq 3.5 writes a request head
/// line by line, and needs only the longest line to fit) always fit, and it never moves.
/// Everything past the live bytes is zero, so a wipe covers only what was used.
pub(super) struct WipedBuffers {
    pub(super) input_size: usize,
    pub(super) output_size: usize,
    pub(super) input: Vec<u8>,
    /// `input[consumed..filled]` is unconsumed; `input[filled..]` is zero, but for scratch.
    pub(super) filled: usize,
    consumed: usize,
    /// The last consume consumed something (ureq's `can_use_input`).
    progress: bool,
    /// Where the scratch space handed to ureq (`tmp_and_output`) starts, until the transmit
    /// that follows it: ureq reads a chunked request body into it, at most as many bytes as
    /// it then transmits (ureq 3.5 `run.rs` `send_body`).
    scratch: Option<usize>,
    pub(super) output: Vec<u8>,
    /// `output[..pending]` is held for the next write; after it, zero unless `handed_out`.
    pub(super) pending: usize,
    /// ureq was given the output buffer and has not transmitted it (it may have written).
    handed_out: bool,
}

impl WipedBuffers {
    pub(super) fn new(input_size: usize, output_size: usize) -> WipedBuffers {
        WipedBuffers {
            input_size: input_size.max(1),
            output_size: output_size.clamp(1, 32 * 1024),
            input: Vec::new(),
            filled: 0,
            consumed: 0,
            progress: false,
            scratch: None,
            output: Vec::new(),
            pending: 0,
            handed_out: false,
        }
    }

    /// Makes room for `at_least_free` bytes after the unconsumed input (as far as the input
    /// may grow: `input_size`, or more for scratch space), the consumed bytes wiped and
    /// dropped from the front once there is nothing after them.
    pub(super) fn prepare_input(&mut self, at_least_free: usize, most: usize) {
        if self.consumed == self.filled && self.filled > 0 {
            self.wipe_consumed_input();
        }
        let free = self.input.len() - self.filled;
        if free < at_least_free && self.consumed > 0 {
            // Move the unconsumed bytes to the front; wipe where they were.
            let (start, end) = (self.consumed, self.filled);
            self.input.copy_within(start..end, 0);
            self.input[end - start..end].zeroize();
            self.filled = end - start;
            self.consumed = 0;
        }
        let len = self.input.len();
        if len - self.filled < at_least_free && len < most {
            let grown = (self.filled + at_least_free)
                .max(len * 2)
                .max(16 * 1024)
                .min(most);
            grow_wiped(&mut self.input, grown, self.filled);
        }
    }

    /// Wipes the input once all of it is consumed, and starts again at the front.
    pub(super) fn wipe_consumed_input(&mut self) {
        if self.consumed == self.filled {
            self.input[..self.filled].zeroize();
            self.filled = 0;
            self.consumed = 0;
        }
    }

    /// Records that `amount` bytes were transmitted from `output()`: held, and the scratch
    /// space ureq may have used for them wiped.
    pub(super) fn transmitted(&mut self, amount: usize) {
        self.pending += amount;
        self.handed_out = false;
        if let Some(start) = self.scratch.take() {
            let end = start.saturating_add(amount).min(self.input.len());
            self.input[start.min(end)..end].zeroize();
        }
    }

    fn ensure_output(&mut self) {
        if self.output.is_empty() {
            self.output = vec![0; 2 * self.output_size];
        }
        self.handed_out = true;
    }
}

/// Resizes `v` to `len` (zero-filled), keeping `v[..used]` (the rest of `v` is zero) and
/// wiping it where it was when the allocation moves.
pub(super) fn grow_wiped(v: &mut Vec<u8>, len: usize, used: usize) {
    if len <= v.capacity() {
        v.resize(len, 0);
        return;
    }
    let used = used.min(v.len());
    let mut grown = vec![0u8; len];
    grown[..used].copy_from_slice(&v[..used]);
    v[..used].zeroize();
    *v = grown;
}

impl Drop for WipedBuffers {
    fn drop(&mut self) {
        // Both rare: ureq given space it may have written and then an error before the
        // transmit. Then all of it.
        let scratch = self.scratch.map_or(self.filled, |_| self.input.len());
        self.input[..scratch].zeroize();
        let output = match self.handed_out {
            true => self.output.len(),
            false => self.pending,
        };
        self.output[..output].zeroize();
    }
}

impl Buffers for WipedBuffers {
    fn output(&mut self) -> &mut [u8] {
        self.ensure_output();
        &mut self.output[self.pending..]
    }

    fn input(&self) -> &[u8] {
        &self.input[self.consumed..self.filled]
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.prepare_input(1, self.input_size);
        &mut self.input[self.filled..]
    }

    fn input_appended(&mut self, amount: usize) {
        self.filled += amount;
    }

    fn input_consume(&mut self, amount: usize) {
        self.progress = amount > 0;
        self.consumed += amount;
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        // ureq reads a request body into the scratch space when it is chunked (ours never
        // are: they have a length); it asks for at least 10 KiB (ureq 3.5 `LazyBuffers`).
        const SCRATCH: usize = 10 * 1024;
        self.prepare_input(SCRATCH, self.input_size.max(self.filled + SCRATCH));
        self.ensure_output();
        self.scratch = Some(self.filled);
        (
            &mut self.input[self.filled..],
            &mut self.output[self.pending..],
        )
    }

    fn can_use_input(&self) -> bool {
        self.consumed < self.filled && self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(after: Duration) -> Option<Instant> {
        Some(Instant::now() + after)
    }

    #[test]
    fn a_socket_timeout_is_set_when_it_must_shrink_and_kept_when_a_new_deadline_is_as_far() {
        let mut t = SocketTimeout::default();
        let mut sets = Vec::new();
        let mut update = |t: &mut SocketTimeout, d| {
            t.update(d, Timeout::Global, |v| {
                sets.push(v);
                Ok(())
            })
            .unwrap()
        };
        update(&mut t, at(Duration::from_secs(30)));
        // The next request's deadline, a little later: no change.
        for _ in 0..100 {
            update(&mut t, at(Duration::from_secs(30)));
        }
        // Less time left than the socket would wait: set.
        update(&mut t, at(Duration::from_secs(5)));
        // Far more than the socket has: set (not to sit on a stale short timeout).
        update(&mut t, at(Duration::from_secs(30)));
        // No deadline: cleared, once.
        update(&mut t, None);
        update(&mut t, None);
        assert_eq!(sets.len(), 4, "{sets:?}");
        assert!(sets[0].unwrap() <= Duration::from_secs(30));
        assert!(sets[0].unwrap() > Duration::from_millis(29_900));
        assert!(sets[1].unwrap() <= Duration::from_secs(5));
        assert_eq!(sets[3], None);
    }

    #[test]
    fn a_passed_deadline_is_a_timeout_with_its_reason() {
        let mut t = SocketTimeout::default();
        let past = Instant::now().checked_sub(Duration::from_millis(1));
        let e = t
            .update(past, Timeout::RecvResponse, |_| Ok(()))
            .unwrap_err();
        assert!(matches!(e, Error::Timeout(Timeout::RecvResponse)), "{e:?}");
    }

    #[test]
    fn output_written_in_pieces_is_held_after_what_came_before() {
        let mut b = WipedBuffers::new(64, 32);
        b.output()[..4].copy_from_slice(b"HEAD");
        b.transmitted(4);
        let out = b.output();
        assert!(out.len() >= 32);
        out[..4].copy_from_slice(b"BODY");
        b.transmitted(4);
        assert_eq!(&b.output[..8], b"HEADBODY");
    }

    #[test]
    fn scratch_space_is_wiped_with_the_transmit_that_follows_it() {
        let mut b = WipedBuffers::new(64, 64);
        let (tmp, out) = b.tmp_and_output();
        tmp[..5].copy_from_slice(b"chunk");
        out[..10].copy_from_slice(b"5\r\nchunk\r\n");
        b.transmitted(10);
        assert!(b.input.iter().all(|&x| x == 0));
        assert_eq!(&b.output[..10], b"5\r\nchunk\r\n");
    }

    #[test]
    fn consumed_input_is_wiped_and_unconsumed_input_is_kept_when_moved() {
        let mut b = WipedBuffers::new(16, 16);
        b.input_append_buf()[..10].copy_from_slice(b"0123456789");
        b.input_appended(10);
        b.input_consume(10);
        b.wipe_consumed_input();
        assert!(b.input.iter().all(|&x| x == 0));
        b.input_append_buf()[..16].copy_from_slice(b"abcdefghijklmnop");
        b.input_appended(16);
        b.input_consume(12);
        // Full: room is made by moving "mnop" to the front and wiping the rest.
        let free = b.input_append_buf().len();
        assert!(free >= 1);
        assert_eq!(b.input(), b"mnop");
        assert!(b.input[4..16].iter().all(|&x| x == 0));
    }

    #[test]
    fn the_peek_sees_an_idle_a_talking_and_a_closed_peer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        assert!(peek::is_idle(&client));
        server.write_all(b"x").unwrap();
        // The byte is on loopback once write returns; wait for it without a timed assertion.
        let mut byte = [0u8];
        client.peek(&mut byte).unwrap();
        assert!(!peek::is_idle(&client));
        let mut c = &client;
        c.read_exact(&mut byte).unwrap();
        assert!(peek::is_idle(&client));
        drop(server);
        // Wait for the FIN the same way: a blocking peek returns 0 at the end.
        assert_eq!(client.peek(&mut byte).unwrap(), 0);
        assert!(!peek::is_idle(&client));
    }
}
