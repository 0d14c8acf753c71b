//! Real Redis servers for tests: one standalone server, or a Redis Cluster of three primaries made with
//! `redis-cli --cluster create`, each on a free loopback port, in a temporary directory, stopped when
//! dropped. From Debian's `redis-server` package.
//!
//! Where `redis-server` is not installed, [`RedisServer::start`] and [`RedisCluster::start`] return `None`
//! after printing why the test did not run — except under CI (`CI` set), where a missing server fails the
//! test: CI installs it, and a test that silently did nothing there would hide a regression.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `redis-server` and `redis-cli` can be run here; prints why not (or fails under CI).
///
/// # Panics
/// Under CI when they are missing.
pub fn available(test: &str) -> bool {
    let runs = |program: &str| {
        Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
    };
    if runs("redis-server") && runs("redis-cli") {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "redis-server and redis-cli are needed by {test}; CI must install them (Debian: apt-get install redis-server)"
    );
    eprintln!("SKIPPED {test}: redis-server is not installed here (Debian: apt-get install redis-server)");
    false
}

/// A free loopback port whose cluster bus port (port + 10000) is free too.
fn free_port() -> u16 {
    loop {
        let Ok(listener) = TcpListener::bind("127.0.0.1:0") else { continue };
        let Ok(address) = listener.local_addr() else { continue };
        let port = address.port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// One running `redis-server`.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    cluster: bool,
    _temp: Option<tempfile::TempDir>,
}

impl RedisServer {
    /// Starts a standalone server; `None` (with a message) when Redis is not installed.
    ///
    /// # Panics
    /// When the server does not start.
    pub fn start(test: &str) -> Option<Self> {
        available(test).then(|| Self::spawn(false))
    }

    fn spawn(cluster: bool) -> Self {
        let temp = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
        let dir = temp.path().to_path_buf();
        let mut server = Self { child: None, port: free_port(), dir, cluster, _temp: Some(temp) };
        server.run();
        server
    }

    /// Starts the server process (again, after [`RedisServer::stop`]) on the same port and directory.
    ///
    /// # Panics
    /// When it does not answer within ten seconds.
    pub fn run(&mut self) {
        let mut args: Vec<String> = vec![
            "--port".into(),
            self.port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            self.dir.display().to_string(),
            "--logfile".into(),
            "redis.log".into(),
            "--appendonly".into(),
            "yes".into(),
            "--appendfsync".into(),
            "always".into(),
            "--save".into(),
            String::new(),
        ];
        if self.cluster {
            args.extend(
                [
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                    // A replica's first copy at once (not after the default 5 s), so it can take over soon.
                    "--repl-diskless-sync-delay",
                    "0",
                ]
                .map(String::from),
            );
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server starts: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cli(&["ping"]).trim() != "PONG" {
            assert!(Instant::now() < deadline, "redis-server on port {} did not answer; see {}", self.port, self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server at once (SIGKILL), keeping its data directory.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    /// Runs `redis-cli` against this server; its standard output (raw, one reply item per line).
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "--raw"])
            .args(args)
            .stderr(Stdio::null())
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis Cluster of three primaries on loopback, without replicas or with one replica each.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers and joins them with `redis-cli --cluster create`; `None` (with a
    /// message) when Redis is not installed.
    ///
    /// # Panics
    /// When the cluster does not form within thirty seconds.
    pub fn start(test: &str) -> Option<Self> {
        available(test).then(|| Self::create(0))
    }

    /// Three primaries with one replica each (six servers), so that a primary can fail over; `None` (with a
    /// message) when Redis is not installed.
    ///
    /// # Panics
    /// When the cluster does not form within thirty seconds.
    pub fn start_with_replicas(test: &str) -> Option<Self> {
        available(test).then(|| Self::create(1))
    }

    fn create(replicas: usize) -> Self {
        let nodes: Vec<RedisServer> = (0..3 * (1 + replicas)).map(|_| RedisServer::spawn(true)).collect();
        let addresses: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(created.is_ok_and(|s| s.success()), "redis-cli --cluster create {addresses:?} succeeds");
        let cluster = Self { nodes };
        cluster.wait_until_ok();
        cluster
    }

    /// Kills (SIGKILL) one of the primaries; returns its index. Its replica takes its slots over after the
    /// node timeout (2 s) and an election; [`RedisCluster::wait_until_ok`] waits for that.
    ///
    /// # Panics
    /// When no running node is a primary.
    pub fn kill_a_primary(&mut self) -> usize {
        let index = self
            .nodes
            .iter()
            .position(|n| n.child.is_some() && n.cli(&["role"]).starts_with("master"))
            .unwrap_or_else(|| panic!("a running primary"));
        self.nodes[index].stop();
        index
    }

    /// Waits until every node still running reports the cluster as `ok` and knows every node, and every
    /// replica has its primary's data.
    ///
    /// # Panics
    /// After thirty seconds.
    pub fn wait_until_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = self.nodes.iter().all(|n| {
                n.child.is_none() || {
                    let info = n.cli(&["cluster", "info"]);
                    let replication = n.cli(&["info", "replication"]);
                    info.contains("cluster_state:ok")
                        && info.contains(&format!("cluster_known_nodes:{}", self.nodes.len()))
                        // A replica has its copy (and could take over).
                        && (!replication.contains("role:slave") || replication.contains("master_link_status:up"))
                }
            });
            if ok {
                return;
            }
            assert!(Instant::now() < deadline, "the cluster did not become ok");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The nodes' addresses, as `[store.redis] nodes` takes them.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The nodes.
    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }
}
