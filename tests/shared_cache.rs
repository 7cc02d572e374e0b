//! The shared token cache against a real `redis-server` (Debian's `redis-server` package),
//! started by each test on a free loopback port without persistence and killed at the end.
//! A fleet is this test binary run again as child processes (the `child` test, which does
//! nothing unless `OAUTH2CC_TEST_REDIS_CHILD` is set): each makes a client with the shared
//! cache and prints what every call got.

mod support;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oauth2cc::{Client, Config};
use support::http_server::{Action, Request, Response, TestServer};
use support::tls::{Pki, TlsFront};
use support::{free_port, CLIENT_ID, CLIENT_SECRET};

/// A `redis-server` of our own on loopback.
struct Redis {
    child: Child,
    port: u16,
    password: Option<String>,
}

impl Redis {
    fn start(extra: &[&str]) -> Redis {
        Redis::start_on(free_port(), extra)
    }

    fn start_on(port: u16, extra: &[&str]) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir", "/tmp"])
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (Debian: apt-get install redis-server; scripts/test.sh does)");
        let password = extra
            .iter()
            .position(|a| *a == "--requirepass")
            .map(|i| extra[i + 1].to_string());
        let redis = Redis {
            child,
            port,
            password,
        };
        let started = Instant::now();
        while redis.cli(&["PING"]) != "PONG" {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    fn url(&self) -> String {
        match &self.password {
            Some(pw) => format!("redis://:{pw}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// `redis-cli` with `args`; its output, trimmed.
    fn cli(&self, args: &[&str]) -> String {
        let mut command = Command::new("redis-cli");
        command.args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(pw) = &self.password {
            command.args(["-a", pw, "--no-auth-warning"]);
        }
        let out = command.args(args).output().expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Every key, with its value for string keys.
    fn dump(&self) -> Vec<(String, String)> {
        self.cli(&["--scan"])
            .lines()
            .filter(|k| !k.is_empty())
            .map(|k| (k.to_string(), self.cli(&["GET", k])))
            .collect()
    }

    /// The token entry's key (the only `oauth2cc:token:*` key that is not a lock).
    fn token_key(&self) -> Option<String> {
        self.dump()
            .into_iter()
            .map(|(k, _)| k)
            .find(|k| k.starts_with("oauth2cc:token:") && !k.ends_with(":lock"))
    }

    fn connections_received(&self) -> u64 {
        let info = self.cli(&["INFO", "stats"]);
        info.lines()
            .find_map(|l| l.strip_prefix("total_connections_received:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("INFO stats")
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// No key or value holds the client secret or an access token (the endpoints here issue
/// `tok-<n>`: entries are sealed); returns how many keys there are.
fn assert_no_secret(redis: &Redis) -> usize {
    let all = redis.dump();
    for (key, value) in &all {
        assert!(!key.contains(CLIENT_SECRET), "secret in key {key}");
        assert!(!value.contains(CLIENT_SECRET), "secret in {key}'s value");
        assert!(
            !value.contains("tok-"),
            "a token in {key}'s value: {value:?}"
        );
    }
    all.len()
}

/// The token a new client with `config` gets from Redis, which it must get without a token
/// request (the entry is sealed: only a client with the credential reads it).
fn read_back(endpoint: &Endpoint, config: &Config) -> String {
    let before = endpoint.token_requests();
    let token = Client::new(config).unwrap().token().unwrap();
    assert_eq!(
        endpoint.token_requests(),
        before,
        "read from Redis, not fetched"
    );
    token.access_token().expose().to_owned()
}

/// A token endpoint issuing `tok-<n>` valid `expires_in` s, each answer after `delay(n)`
/// (`None`: stall, never answer), and an API answering 401 to the tokens in `rejected`.
struct Endpoint {
    server: TestServer,
    rejected: Arc<Mutex<Vec<String>>>,
}

impl Endpoint {
    fn start(expires_in: u64, delay: fn(usize) -> Option<Duration>) -> Endpoint {
        let issued = AtomicUsize::new(0);
        let rejected = Arc::new(Mutex::new(Vec::<String>::new()));
        let api_rejects = Arc::clone(&rejected);
        let server = TestServer::start(move |request: &Request| {
            if !request.path().ends_with("token") {
                let auth = request.header("authorization").unwrap_or("");
                let bad = api_rejects
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|t| auth == format!("Bearer {t}"));
                return Response::json(if bad { 401 } else { 200 }, "{}").into();
            }
            if request.basic_auth() != Some((CLIENT_ID.into(), CLIENT_SECRET.into())) {
                return support::oauth_error(401, "invalid_client", "Invalid client");
            }
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            match delay(n) {
                None => Action::Stall(Duration::from_secs(30)),
                Some(d) => {
                    std::thread::sleep(d);
                    let body = serde_json::json!({
                        "access_token": format!("tok-{n}"),
                        "token_type": "bearer",
                        "expires_in": expires_in,
                    });
                    Response::json(200, &body.to_string()).into()
                }
            }
        });
        Endpoint { server, rejected }
    }

    fn token_requests(&self) -> usize {
        self.server
            .requests()
            .iter()
            .filter(|r| r.path().ends_with("token"))
            .count()
    }
}

fn shared_config(endpoint: &Endpoint, redis_url: &str, timeout_ms: u32) -> Config {
    let mut config = support::config(&endpoint.server.url("/token"), timeout_ms);
    config.set_shared_cache(Some(redis_url)).unwrap();
    config
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

/// What a child process is told to do.
struct Fleet {
    token_url: String,
    redis_url: String,
    timeout_ms: u32,
    threads: usize,
    /// Ask every `interval_ms` until `run_ms` have passed; 0: ask once.
    interval_ms: u64,
    run_ms: u64,
    /// Unix ms at which every thread starts asking (0: at once).
    start_at: u128,
}

impl Fleet {
    /// Processes that ask `endpoint` for a token through `redis_url`: one thread, asking
    /// once, at once.
    fn new(endpoint: &Endpoint, redis_url: String, timeout_ms: u32) -> Fleet {
        Fleet {
            token_url: endpoint.server.url("/token"),
            redis_url,
            timeout_ms,
            threads: 1,
            interval_ms: 0,
            run_ms: 0,
            start_at: 0,
        }
    }

    /// The lines `processes` processes of this fleet printed (see [`results`]).
    fn run(&self, processes: usize) -> Vec<String> {
        let children: Vec<Child> = (0..processes).map(|_| self.spawn()).collect();
        children.into_iter().flat_map(results).collect()
    }

    fn spawn(&self) -> Child {
        self.command().stdout(Stdio::piped()).spawn().unwrap()
    }

    fn command(&self) -> Command {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args(["child", "--exact", "--nocapture", "--test-threads=1"])
            .env("OAUTH2CC_TEST_REDIS_CHILD", "1")
            .env("CHILD_TOKEN_URL", &self.token_url)
            .env("CHILD_REDIS_URL", &self.redis_url)
            .env("CHILD_TIMEOUT_MS", self.timeout_ms.to_string())
            .env("CHILD_THREADS", self.threads.to_string())
            .env("CHILD_INTERVAL_MS", self.interval_ms.to_string())
            .env("CHILD_RUN_MS", self.run_ms.to_string())
            .env("CHILD_START_AT", self.start_at.to_string());
        command
    }
}

/// The `TOKEN <token> <unix ms>` and `ERROR <message>` lines a child printed.
fn results(mut child: Child) -> Vec<String> {
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child.wait().unwrap();
    // libtest's "test child ... " has no newline before the test runs: the first line
    // printed may follow it.
    out.lines()
        .filter_map(|l| {
            l.find("TOKEN ")
                .or_else(|| l.find("ERROR "))
                .map(|at| &l[at..])
        })
        .map(str::to_string)
        .collect()
}

/// One process of a fleet (see the file's documentation).
#[test]
fn child() {
    if std::env::var_os("OAUTH2CC_TEST_REDIS_CHILD").is_none() {
        return;
    }
    let var = |name: &str| std::env::var(name).unwrap();
    let num = |name: &str| var(name).parse::<u64>().unwrap();
    let mut config = support::config(&var("CHILD_TOKEN_URL"), num("CHILD_TIMEOUT_MS") as u32);
    config
        .set_shared_cache(Some(&var("CHILD_REDIS_URL")))
        .unwrap();
    let client = Client::new(&config).unwrap();
    let (interval, run) = (num("CHILD_INTERVAL_MS"), num("CHILD_RUN_MS"));
    let start_at = u128::from(num("CHILD_START_AT"));
    while unix_ms() < start_at {
        std::thread::sleep(Duration::from_millis(1));
    }
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..num("CHILD_THREADS") {
            s.spawn(|| loop {
                match client.token() {
                    Ok(t) => println!("TOKEN {} {}", t.access_token().expose(), unix_ms()),
                    Err(e) => println!("ERROR {e}"),
                }
                if interval == 0 || started.elapsed() >= Duration::from_millis(run) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(interval));
            });
        }
    });
}

#[test]
fn a_cold_fleet_of_8_processes_x_8_threads_makes_one_token_request() {
    let redis = Redis::start(&[]);
    // A slow answer, so that every process arrives while the first one fetches.
    let endpoint = Endpoint::start(3600, |_| Some(Duration::from_millis(300)));
    let fleet = Fleet {
        threads: 8,
        start_at: unix_ms() + 1500,
        ..Fleet::new(&endpoint, redis.url(), 5000)
    };
    let lines = fleet.run(8);
    assert_eq!(lines.len(), 64, "{lines:?}");
    assert!(
        lines.iter().all(|l| l.starts_with("TOKEN tok-1 ")),
        "{lines:?}"
    );
    println!(
        "cold fleet: {} calls in 8 processes x 8 threads -> {} token request(s)",
        lines.len(),
        endpoint.token_requests()
    );
    assert_eq!(endpoint.token_requests(), 1);
    // The entry and nothing else is left (the lock was released), and no secret anywhere.
    assert_eq!(assert_no_secret(&redis), 1);
    let key = redis.token_key().unwrap();
    let ttl: i64 = redis.cli(&["PTTL", &key]).parse().unwrap();
    assert!(
        (3_590_000..=3_600_000).contains(&ttl),
        "expires with the token: {ttl} ms"
    );
    assert_eq!(
        read_back(&endpoint, &shared_config(&endpoint, &redis.url(), 5000)),
        "tok-1"
    );
}

#[test]
fn short_lived_tokens_are_refreshed_by_a_handful_of_requests_for_the_whole_fleet() {
    let redis = Redis::start(&[]);
    let endpoint = Endpoint::start(3, |_| Some(Duration::from_millis(20)));
    let fleet = Fleet {
        interval_ms: 100,
        run_ms: 6000,
        start_at: unix_ms() + 1000,
        ..Fleet::new(&endpoint, redis.url(), 2000)
    };
    let lines = fleet.run(8);
    let errors: Vec<&String> = lines.iter().filter(|l| l.starts_with("ERROR")).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let requests = endpoint.token_requests();
    println!(
        "3 s tokens, 8 processes every 100 ms for 6 s: {} calls -> {requests} token requests \
         for the fleet",
        lines.len()
    );
    assert!(lines.len() >= 8 * 55, "{}", lines.len());
    // Alone, each process would ask at least every 1.5 s (half the life): 8 x 4 = 32.
    assert!((3..=10).contains(&requests), "{requests} token requests");
    assert_no_secret(&redis);
}

/// A loopback proxy to `redis` that holds the first `SET ... NX` (a lock attempt) it sees:
/// it reports it on the returned receiver and forwards it only once the sender is used.
fn lock_holding_proxy(
    redis: &Redis,
) -> (
    u16,
    std::sync::mpsc::Receiver<()>,
    std::sync::mpsc::Sender<()>,
) {
    use std::io::Write;
    use std::net::{Shutdown, TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let redis_port = redis.port;
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let hold = Arc::new(Mutex::new(Some((held_tx, go_rx))));
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let server = TcpStream::connect(("127.0.0.1", redis_port)).unwrap();
            let (mut from_server, mut to_client) =
                (server.try_clone().unwrap(), client.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_server, &mut to_client);
                let _ = to_client.shutdown(Shutdown::Write);
            });
            let (mut from_client, mut to_server) = (client, server);
            let hold = Arc::clone(&hold);
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                loop {
                    let n = match from_client.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let lock_attempt = buf[..n].windows(8).any(|w| w == b"$2\r\nNX\r\n");
                    if lock_attempt {
                        if let Some((held, go)) = hold.lock().unwrap().take() {
                            held.send(()).unwrap();
                            go.recv().unwrap();
                        }
                    }
                    if to_server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to_server.shutdown(Shutdown::Write);
            });
        }
    });
    (port, held_rx, go_tx)
}

/// The holder before us stores its token and releases the lock between our `GET` (a miss)
/// and our `SET NX` (which then succeeds): we take the stored token, with no request of our
/// own, and release the lock we took.
#[test]
fn a_lock_won_just_after_the_holder_stored_its_token_takes_that_token() {
    let keys = late_lock_winner(true);
    assert_eq!(
        keys.len(),
        1,
        "the late client's lock is released: {keys:?}"
    );
}

/// The same, for a late client whose unlock fails (its Redis user may not `EVAL`): it still
/// takes the stored token, with no request of its own; its lock is left to expire.
#[test]
fn a_failed_unlock_after_the_second_read_still_takes_the_stored_token() {
    let keys = late_lock_winner(false);
    assert_eq!(
        keys.len(),
        2,
        "the entry and the late client's lock: {keys:?}"
    );
    assert!(keys.iter().any(|k| k.ends_with(":lock")), "{keys:?}");
}

/// A late client (through [`lock_holding_proxy`], as a Redis user that may `EVAL` or not)
/// wins the lock just after another client stored `tok-1` and unlocked; asserts that it got
/// `tok-1` with no request of its own, and returns the keys left in Redis.
fn late_lock_winner(may_eval: bool) -> Vec<String> {
    let redis = Redis::start(&[]);
    let mut acl = vec!["ACL", "SETUSER", "late", "on", ">late-pw", "~*", "+@all"];
    if !may_eval {
        acl.push("-eval");
    }
    let acl = redis.cli(&acl);
    assert_eq!(acl, "OK");
    let endpoint = Endpoint::start(3600, |_| Some(Duration::ZERO));
    let (proxy, held, go) = lock_holding_proxy(&redis);
    let url = format!("redis://late:late-pw@127.0.0.1:{proxy}");
    let late = shared_config(&endpoint, &url, 6000);
    let late = std::thread::spawn(move || Client::new(&late).unwrap().token());
    held.recv_timeout(Duration::from_secs(10))
        .expect("the late client tries the lock");
    // Meanwhile another process fetches, stores and unlocks.
    let first = shared_config(&endpoint, &redis.url(), 6000);
    let first = Client::new(&first).unwrap().token().unwrap();
    assert_eq!(first.access_token().expose(), "tok-1");
    go.send(()).unwrap();
    let late = late.join().unwrap().unwrap();
    assert_eq!(late.access_token().expose(), "tok-1");
    assert_eq!(endpoint.token_requests(), 1, "the late client asked too");
    redis.dump().into_iter().map(|(k, _)| k).collect()
}

/// The holder of the refresh lock is killed -9 mid-fetch: each of the others returns
/// within its timeout (the lock wait is a third of it; then one of them takes the takeover
/// lock, fetches and stores for the fleet), and the fleet has the new token in Redis.
#[test]
fn a_lock_holder_killed_mid_fetch_costs_the_others_the_lock_wait_not_their_timeout() {
    let redis = Redis::start(&[]);
    // The first request never gets an answer; the others get one at once.
    let endpoint = Endpoint::start(3600, |n| (n > 1).then_some(Duration::ZERO));
    let timeout_ms = 6000;
    let mut fleet = Fleet::new(&endpoint, redis.url(), timeout_ms);
    let mut holder = fleet.spawn();
    assert!(endpoint
        .server
        .wait_for_requests(1, Duration::from_secs(10)));
    let locked_at = unix_ms();
    assert!(redis.dump().iter().any(|(k, _)| k.ends_with(":lock")));
    fleet.threads = 2;
    std::thread::sleep(Duration::from_millis(300));
    holder.kill().unwrap(); // SIGKILL
    holder.wait().unwrap();
    let spawned_at = unix_ms();
    let others: Vec<Child> = (0..7).map(|_| fleet.spawn()).collect();
    let lines: Vec<String> = others.into_iter().flat_map(results).collect();
    assert_eq!(lines.len(), 14, "{lines:?}");
    let mut latest = 0;
    for line in &lines {
        let mut parts = line.split(' ');
        assert_eq!(parts.next(), Some("TOKEN"), "{line}");
        assert_eq!(parts.next(), Some("tok-2"), "{line}");
        latest = latest.max(parts.next().unwrap().parse::<u128>().unwrap());
    }
    let waited = latest - spawned_at;
    println!(
        "lock holder killed: the other 7 processes, started {} ms after it took the lock, \
         had a token {waited} ms after they started (timeout {timeout_ms} ms, lock wait {} \
         ms); {} token requests",
        spawned_at - locked_at,
        timeout_ms / 3,
        endpoint.token_requests()
    );
    // The lock wait (2 s) and the fetch, process start-up included (a test binary: some
    // 100 ms each, 7 at once); not the dead lock's 6 s.
    assert!(waited <= u128::from(timeout_ms / 3) + 1500, "{waited} ms");
    assert_eq!(endpoint.token_requests(), 2, "one of them took over, alone");
    // ...and stored its token for the fleet.
    let config = shared_config(&endpoint, &redis.url(), timeout_ms);
    assert_eq!(read_back(&endpoint, &config), "tok-2");
}

/// A free loopback port whose cluster bus port (+10000) is free too.
fn cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port < 55000 && std::net::TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
}

/// A Redis Cluster of three masters on loopback, made by the test with `redis-cli --cluster
/// create`.
fn start_cluster(dir: &support::TempDir) -> Vec<Redis> {
    let nodes: Vec<Redis> = (0..3)
        .map(|_| {
            let port = cluster_port();
            let conf = dir.path().join(format!("nodes-{port}.conf"));
            Redis::start_on(
                port,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    conf.to_str().unwrap(),
                    "--cluster-node-timeout",
                    "5000",
                ],
            )
        })
        .collect();
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let out = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("redis-cli --cluster create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let started = Instant::now();
    for node in &nodes {
        while !node.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok") {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the cluster is not ok"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    nodes
}

/// A fleet pointed at each node of a 3-master Redis Cluster in turn makes one token
/// request per fleet: the nodes that do not own the key's slot answer `MOVED`, followed to
/// the owner (for the entry and both locks, which share its slot through a hash tag).
#[test]
fn a_fleet_pointed_at_any_node_of_a_redis_cluster_makes_one_token_request() {
    let dir = support::TempDir::new("redis-cluster");
    let nodes = start_cluster(&dir);
    let endpoint = Endpoint::start(3600, |_| Some(Duration::from_millis(300)));
    let mut owners = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let fleet = Fleet {
            start_at: unix_ms() + 1500,
            ..Fleet::new(&endpoint, node.url(), 5000)
        };
        let lines = fleet.run(6);
        let expected = format!("TOKEN tok-{} ", i + 1);
        assert_eq!(lines.len(), 6, "{lines:?}");
        assert!(lines.iter().all(|l| l.starts_with(&expected)), "{lines:?}");
        assert_eq!(
            endpoint.token_requests(),
            i + 1,
            "one request for fleet {i}"
        );
        // The entry is on the node that owns its slot, sealed; no lock is left.
        let holders: Vec<(usize, Vec<(String, String)>)> = nodes
            .iter()
            .enumerate()
            .map(|(n, node)| (n, node.dump()))
            .filter(|(_, keys)| !keys.is_empty())
            .collect();
        assert_eq!(holders.len(), 1, "{holders:?}");
        let (owner, keys) = &holders[0];
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert_no_secret(&nodes[*owner]);
        owners.push(*owner);
        nodes[*owner].cli(&["DEL", &keys[0].0]);
    }
    println!(
        "redis cluster: 3 fleets of 6 processes, each pointed at another node, the key's \
         slot on node {}: {} token requests",
        owners[0],
        endpoint.token_requests()
    );
    assert!(
        owners.iter().all(|o| *o == owners[0]),
        "one key, one slot: {owners:?}"
    );
}

/// A fake Redis on loopback that answers every command with a bulk reply trickled a byte
/// every 300 ms (a reply that would take 30 s).
fn trickling_redis() -> (u16, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&connections);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                use std::io::Write;
                let mut command = [0u8; 4096];
                if stream.read(&mut command).unwrap_or(0) == 0 {
                    return;
                }
                let mut reply = b"$100\r\n".to_vec();
                reply.extend_from_slice(&[b'x'; 100]);
                reply.extend_from_slice(b"\r\n");
                for byte in reply {
                    if stream.write_all(&[byte]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
            });
        }
    });
    (port, connections)
}

/// A Redis that trickles its replies cannot hold a call past its timeout: each command
/// has a deadline (a quarter of the timeout here), not a timeout per read.
#[test]
fn a_trickling_redis_cannot_hold_a_call_past_its_timeout() {
    let endpoint = Endpoint::start(3600, |_| Some(Duration::ZERO));
    let (port, connections) = trickling_redis();
    let url = format!("redis://127.0.0.1:{port}");
    let client = Client::new(&shared_config(&endpoint, &url, 2000)).unwrap();
    let started = Instant::now();
    let token = client.token().expect("a token despite Redis");
    let took = started.elapsed();
    println!("trickling Redis (a byte every 300 ms): a token in {took:?} (timeout 2 s)");
    assert_eq!(token.access_token().expose(), "tok-1");
    assert_eq!(connections.load(Ordering::SeqCst), 1, "it did talk to it");
    assert!(
        took >= Duration::from_millis(400),
        "it waited on the GET: {took:?}"
    );
    assert!(took < Duration::from_millis(2000), "{took:?}");
}

/// A client with a shared cache at `redis_url`: its first token comes within the timeout
/// whatever Redis does. Returns the time the call took.
fn token_despite(endpoint: &Endpoint, redis_url: &str) -> (Client, Duration) {
    let client = Client::new(&shared_config(endpoint, redis_url, 2000)).unwrap();
    let started = Instant::now();
    let token = client.token().expect("a token despite Redis");
    assert!(token.access_token().expose().starts_with("tok-"));
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "{took:?}");
    (client, took)
}

#[test]
fn redis_stopped_wrong_password_paused_full_or_read_only_never_fails_a_call() {
    let endpoint = Endpoint::start(3600, |_| Some(Duration::ZERO));

    let mut stopped = Redis::start(&[]);
    let url = stopped.url();
    stopped.stop();
    let (_, took) = token_despite(&endpoint, &url);
    println!("redis stopped: a token in {took:?}");

    let locked = Redis::start(&["--requirepass", "right-password"]);
    let wrong = format!("redis://:wrong-password@127.0.0.1:{}", locked.port);
    let (client, took) = token_despite(&endpoint, &wrong);
    println!("wrong password: a token in {took:?}");
    assert_eq!(locked.cli(&["DBSIZE"]), "0");
    // Backing off: the next refresh does not even connect (the only new connection is
    // redis-cli's own).
    let before = locked.connections_received();
    client.invalidate();
    client.token().unwrap();
    assert_eq!(
        locked.connections_received(),
        before + 1,
        "no connection for 30 s"
    );

    let paused = Redis::start(&[]);
    assert_eq!(paused.cli(&["CLIENT", "PAUSE", "10000", "ALL"]), "OK");
    let (_, took) = token_despite(&endpoint, &paused.url());
    println!("CLIENT PAUSE: a token in {took:?} (timeout 2 s, a Redis operation 500 ms)");
    assert!(
        took >= Duration::from_millis(400),
        "it did wait on Redis: {took:?}"
    );

    let full = Redis::start(&["--maxmemory", "1", "--maxmemory-policy", "noeviction"]);
    token_despite(&endpoint, &full.url());
    assert_eq!(full.cli(&["DBSIZE"]), "0");

    let replica = Redis::start(&["--replicaof", "127.0.0.1", &free_port().to_string()]);
    token_despite(&endpoint, &replica.url());
    assert_eq!(replica.cli(&["DBSIZE"]), "0");
}

/// A client with the right secret stores its token in Redis and in the cache file; one
/// with the same id, URL and scope but a wrong secret finds neither (both are bound to the
/// credential), asks the endpoint and gets its own 401. Neither store holds the token.
#[test]
fn a_wrong_secret_misses_both_caches_and_gets_its_own_answer() {
    let redis = Redis::start(&[]);
    let endpoint = Endpoint::start(3600, |_| Some(Duration::ZERO));
    let dir = support::TempDir::new("wrong-secret");
    let cache = dir.path().join("cache.json");
    let cache = cache.to_str().unwrap();
    let with = |secret: &str, redis_url: Option<&str>, cache_file: Option<&str>| {
        let mut config = Config::new(CLIENT_ID, secret).unwrap();
        config
            .set_token_url(&endpoint.server.url("/token"))
            .unwrap();
        config.set_timeout_ms(2000).unwrap();
        config.set_shared_cache(redis_url).unwrap();
        config.set_cache_file(cache_file).unwrap();
        config
    };
    let url = redis.url();
    let right = with(CLIENT_SECRET, Some(&url), Some(cache));
    let token = Client::new(&right).unwrap().token().unwrap();
    assert_eq!(token.access_token().expose(), "tok-1");
    assert_eq!(assert_no_secret(&redis), 1);
    let file = std::fs::read(cache).unwrap();
    assert!(!String::from_utf8_lossy(&file).contains("tok-1"), "sealed");
    assert!(!String::from_utf8_lossy(&file).contains(CLIENT_SECRET));
    for (what, wrong) in [
        ("both", with("a-wrong-secret", Some(&url), Some(cache))),
        ("Redis", with("a-wrong-secret", Some(&url), None)),
        ("the cache file", with("a-wrong-secret", None, Some(cache))),
    ] {
        let before = endpoint.token_requests();
        let e = Client::new(&wrong).unwrap().token().unwrap_err();
        assert_eq!(e.kind(), oauth2cc::ErrorKind::Unauthorized, "{what}: {e}");
        assert_eq!(
            endpoint.token_requests(),
            before + 1,
            "{what}: asked the endpoint"
        );
    }
    // The right secret still finds its token in each.
    assert_eq!(
        read_back(&endpoint, &with(CLIENT_SECRET, Some(&url), None)),
        "tok-1"
    );
    assert_eq!(
        read_back(&endpoint, &with(CLIENT_SECRET, None, Some(cache))),
        "tok-1"
    );
    assert_eq!(assert_no_secret(&redis), 1);
}

#[test]
fn a_corrupted_entry_is_replaced_not_trusted() {
    let redis = Redis::start(&[]);
    let endpoint = Endpoint::start(3600, |_| Some(Duration::ZERO));
    let config = shared_config(&endpoint, &redis.url(), 2000);
    let first = Client::new(&config).unwrap().token().unwrap();
    assert_eq!(first.access_token().expose(), "tok-1");
    let key = redis.token_key().unwrap();
    for garbage in [
        "garbage{",
        r#"{"v":1,"access_token":"evil\r\nX-Injected: 1","token_type":"Bearer","scope":null,"expires_at":99999999999}"#,
    ] {
        assert_eq!(redis.cli(&["SET", &key, garbage]), "OK");
        let before = endpoint.token_requests();
        let token = Client::new(&config).unwrap().token().unwrap();
        assert!(
            token.access_token().expose().starts_with("tok-"),
            "{garbage}"
        );
        assert_eq!(endpoint.token_requests(), before + 1, "fetched, not read");
        assert_eq!(read_back(&endpoint, &config), token.access_token().expose());
    }
    assert_no_secret(&redis);
}

#[test]
fn a_401_deletes_the_shared_entry_only_while_it_holds_the_rejected_token() {
    let redis = Redis::start(&[]);
    let endpoint = Endpoint::start(3600, |_| Some(Duration::ZERO));
    let mut config = shared_config(&endpoint, &redis.url(), 2000);
    config.set_unauthorized_refresh_interval_ms(0);
    let api = endpoint.server.url("/api/me");

    // Process A holds tok-1; then the entry is dropped and process B puts tok-2 there.
    let a = Client::new(&config).unwrap();
    assert_eq!(a.token().unwrap().access_token().expose(), "tok-1");
    let key = redis.token_key().unwrap();
    redis.cli(&["DEL", &key]);
    let b = Client::new(&config).unwrap();
    assert_eq!(b.token().unwrap().access_token().expose(), "tok-2");

    // The API rejects A's tok-1: A must not flush the good tok-2; it takes it instead.
    endpoint.rejected.lock().unwrap().push("tok-1".into());
    assert_eq!(a.get(&api).unwrap().status, 200);
    assert_eq!(read_back(&endpoint, &config), "tok-2", "kept");
    assert_eq!(a.token().unwrap().access_token().expose(), "tok-2");
    assert_eq!(endpoint.token_requests(), 2);

    // The API rejects tok-2 itself: the entry holding it goes, and A fetches tok-3.
    endpoint.rejected.lock().unwrap().push("tok-2".into());
    assert_eq!(a.get(&api).unwrap().status, 200);
    assert_eq!(a.token().unwrap().access_token().expose(), "tok-3");
    assert_eq!(read_back(&endpoint, &config), "tok-3", "replaced");
    assert_eq!(endpoint.token_requests(), 3);
}

/// A Redis named by host name (`localhost`, looked up on a thread of its own under the
/// call's deadline) is used like one named by address: the token is stored there, and a
/// second client reads it back with no request.
#[test]
fn a_redis_named_by_host_name_is_shared() {
    let redis = Redis::start(&[]);
    let endpoint = Endpoint::start(3600, |_| Some(Duration::ZERO));
    let url = format!("redis://localhost:{}", redis.port);
    let config = shared_config(&endpoint, &url, 2000);
    let token = Client::new(&config).unwrap().token().unwrap();
    assert_eq!(token.access_token().expose(), "tok-1");
    assert!(redis.token_key().is_some(), "{:?}", redis.dump());
    assert_eq!(read_back(&endpoint, &config), "tok-1");
}

#[test]
fn cache_hits_never_touch_redis() {
    let redis = Redis::start(&[]);
    let endpoint = Endpoint::start(3600, |_| Some(Duration::ZERO));
    let client = Client::new(&shared_config(&endpoint, &redis.url(), 2000)).unwrap();
    let connections = redis.connections_received();
    client.token().unwrap();
    let commands = |redis: &Redis| -> u64 {
        let info = redis.cli(&["INFO", "stats"]);
        info.lines()
            .find_map(|l| l.strip_prefix("total_commands_processed:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap()
    };
    let before = commands(&redis);
    for _ in 0..10_000 {
        client.token().unwrap();
    }
    // The only command in between is the INFO that reads the count.
    assert_eq!(commands(&redis), before + 1);
    // One connection for the refresh (GET, lock, store, unlock), then redis-cli's three.
    assert_eq!(redis.connections_received(), connections + 1 + 3);
}

#[test]
fn rediss_is_checked_against_the_token_endpoints_trust() {
    let redis = Redis::start(&[]);
    let pki = Pki::new("redis CA");
    let backend = format!("127.0.0.1:{}", redis.port).parse().unwrap();
    let front = TlsFront::start(&pki.leaf(&["localhost", "127.0.0.1"]), backend);
    let endpoint = Endpoint::start(3600, |_| Some(Duration::ZERO));
    let url = format!("rediss://127.0.0.1:{}", front.port());

    // With the CA file the token endpoint would use, the token goes through TLS to Redis...
    let mut trusted = shared_config(&endpoint, &url, 2000);
    trusted
        .set_ca_file(&pki.ca_file().to_string_lossy())
        .unwrap();
    let first = Client::new(&trusted).unwrap().token().unwrap();
    assert!(redis.token_key().is_some());
    // ...and another client reads it back over TLS without a request.
    let second = Client::new(&trusted).unwrap().token().unwrap();
    assert_eq!(second.access_token(), first.access_token());
    assert_eq!(endpoint.token_requests(), 1);

    // Without it (the system's roots) the handshake fails: the client fetches itself.
    let untrusted = shared_config(&endpoint, &url, 2000);
    let third = Client::new(&untrusted).unwrap().token().unwrap();
    assert_eq!(third.access_token().expose(), "tok-2");
    assert_eq!(endpoint.token_requests(), 2);
}

#[test]
fn a_redis_failure_is_logged_as_a_warning_without_the_password() {
    let redis = Redis::start(&["--requirepass", "right-password"]);
    let endpoint = Endpoint::start(3600, |_| Some(Duration::ZERO));
    let wrong = format!("redis://:wrong-password@127.0.0.1:{}", redis.port);
    let out = Fleet::new(&endpoint, wrong, 2000)
        .command()
        .env("OAUTH2CC_LOG", "warn")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stdout.contains("TOKEN tok-1"), "{stdout}");
    let expected = format!(
        "oauth2cc: WARN shared cache redis://127.0.0.1:{}/0: AUTH: WRONGPASS",
        redis.port
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("not using Redis for 30 s"), "{stderr}");
    assert!(!stderr.contains("wrong-password"), "{stderr}");
}

#[test]
fn a_background_refresh_before_the_leeway_replaces_the_fleets_token() {
    let redis = Redis::start(&[]);
    // 10 s tokens, a 5 s leeway: background refreshes come 0.5-1 s before the leeway, when
    // Redis still holds a token that is not due.
    let endpoint = Endpoint::start(10, |_| Some(Duration::ZERO));
    let mut config = shared_config(&endpoint, &redis.url(), 2000);
    config.set_expiry_leeway(5);
    config.set_background_refresh(true);
    let started = Instant::now();
    let a = Client::new(&config).unwrap();
    let b = Client::new(&config).unwrap();
    assert_eq!(a.token().unwrap().access_token().expose(), "tok-1");
    assert_eq!(b.token().unwrap().access_token().expose(), "tok-1");
    assert_eq!(endpoint.token_requests(), 1);
    // Before tok-1 enters its leeway (5 s): the first background refresh fetched tok-2
    // rather than taking tok-1 back from Redis, and the other client took tok-2 from Redis.
    std::thread::sleep(Duration::from_millis(4800).saturating_sub(started.elapsed()));
    assert_eq!(endpoint.token_requests(), 2);
    assert_eq!(a.token().unwrap().access_token().expose(), "tok-2");
    assert_eq!(b.token().unwrap().access_token().expose(), "tok-2");
}
