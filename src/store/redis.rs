//! The shared backend: Redis, one server or a Redis Cluster, for several replicas of one bot.
//!
//! On the server (`P` is `[store.redis] key_prefix`) every tree is a set of Redis hashes: `P:{s:<hash>}:<tree>`
//! holds the tree's entries about the subject with that pseudonymous hash, `P:{t:<tree>}` the tree's other
//! entries; a field is an entry's key, its value the entry's value. The braces are Redis Cluster hash tags:
//! everything about one person — their records in every namespace, their data key, their link — hashes to
//! one slot, so exporting or erasing them is work on one node. `P:{m}:trees` names the trees. The store
//! above seals every value and hashes every key, so the server holds no identifier and no plaintext.
//!
//! Compare-and-set operations run as Lua scripts on the server, so they are atomic across replicas.
//! Prefix scans that name one slot read one hash; others walk the keyspace of every primary with `SCAN`
//! (stores sweeps, backups and statistics only — never the path of a message).

use std::collections::HashSet;
use std::sync::Mutex;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, FromRedisValue, IntoConnectionInfo, RedisError};

use super::StoreError;
use super::backend::{Backend, Pair};
use super::layout::{self, Slot};
use crate::config::RedisSettings;

/// Writes the value unless the field holds one; returns what it held (nil when written).
const INSERT_IF_ABSENT: &str = r"
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held then return held end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return false";

/// Removes the field only if it still holds the expected value; returns 1 when removed.
const REMOVE_IF_UNCHANGED: &str = r"
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0";

/// Replaces the field's value only if it still holds the expected one; returns 1 when replaced.
const REPLACE_IF_UNCHANGED: &str = r"
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end
return 0";

/// How many keys one `SCAN` step asks a node for.
const SCAN_COUNT: usize = 1000;

#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// A Redis server or cluster as a [`Backend`].
pub struct RedisBackend {
    connection: Connection,
    prefix: String,
    /// Where the server is, for messages (no credentials: the configuration refuses them in addresses).
    shown: String,
    /// Trees this process has named in `P:{m}:trees` already.
    registered: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend").field("server", &self.shown).finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Connects to the server or cluster `[store.redis]` names and checks that it answers.
    ///
    /// # Errors
    /// [`StoreError::Open`] naming the address and what to check when it cannot be reached, refuses the
    /// credentials, or is not what the settings say (a cluster given as one server, or the other way round).
    pub async fn connect(settings: &RedisSettings) -> Result<Self, StoreError> {
        let shown = match &settings.url {
            Some(url) => url.clone(),
            None => settings.nodes.join(", "),
        };
        let fail = |reason: String| StoreError::Open { path: shown.clone(), reason };
        let connecting = async {
            match &settings.url {
                Some(url) => Self::single(url, settings).await.map(Connection::Single),
                None => Self::cluster(settings).await.map(Connection::Cluster),
            }
        };
        // The clients retry a refused connection with backoff; a server that is down at start is an error
        // after a few attempts, not a hang.
        let limit = settings.connect_timeout * 3;
        let connection = match tokio::time::timeout(limit, connecting).await {
            Err(_) => return Err(fail(format!("no answer within {limit:?}; is Redis running there and reachable?"))),
            Ok(Err(e)) => return Err(fail(explain(&e, settings.url.is_none()))),
            Ok(Ok(c)) => c,
        };
        let backend = Self {
            connection,
            prefix: settings.key_prefix.clone(),
            shown: shown.clone(),
            registered: Mutex::default(),
        };
        let pong: String = backend.query(&redis::cmd("PING"), "ping", "*").await.map_err(|e| match e {
            StoreError::Backend { reason, .. } => fail(reason),
            other => other,
        })?;
        if pong != "PONG" {
            return Err(fail(format!("it answered PING with `{pong}`; is this a Redis server?")));
        }
        Ok(backend)
    }

    async fn single(url: &str, settings: &RedisSettings) -> Result<ConnectionManager, RedisError> {
        let info = url.into_connection_info()?;
        let mut redis = info.redis_settings().clone();
        if let Some(user) = &settings.username {
            redis = redis.set_username(user);
        }
        if let Some(password) = &settings.password {
            redis = redis.set_password(password.expose());
        }
        let client = redis::Client::open(info.set_redis_settings(redis))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.response_timeout))
            .set_number_of_retries(2)
            .set_max_delay(std::time::Duration::from_secs(2));
        ConnectionManager::new_with_config(client, config).await
    }

    async fn cluster(settings: &RedisSettings) -> Result<ClusterConnection, RedisError> {
        let mut builder = ClusterClientBuilder::new(settings.nodes.clone())
            .connection_timeout(settings.connect_timeout)
            .response_timeout(settings.response_timeout)
            .retries(3);
        if let Some(user) = &settings.username {
            builder = builder.username(user);
        }
        if let Some(password) = &settings.password {
            builder = builder.password(password.expose());
        }
        builder.build()?.get_async_connection().await
    }

    /// Whether this backend talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.connection, Connection::Cluster(_))
    }

    /// The Redis key of `tree`'s hash for `slot`.
    fn hash_key(&self, tree: &str, slot: Slot) -> String {
        match slot {
            Slot::Subject(hash) => format!("{}:{{s:{}}}:{tree}", self.prefix, crate::crypto::hex(&hash)),
            Slot::Tree => format!("{}:{{t:{tree}}}", self.prefix),
        }
    }

    fn trees_key(&self) -> String {
        format!("{}:{{m}}:trees", self.prefix)
    }

    async fn query<T: FromRedisValue>(&self, cmd: &Cmd, op: &'static str, tree: &str) -> Result<T, StoreError> {
        let done = match self.connection.clone() {
            Connection::Single(mut c) => cmd.query_async(&mut c).await,
            Connection::Cluster(mut c) => cmd.query_async(&mut c).await,
        };
        done.map_err(|e| self.failed(op, tree, &e))
    }

    /// Names `tree` in the list of trees, once per process (the list only grows).
    async fn register(&self, tree: &str) -> Result<(), StoreError> {
        let known = self.registered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(tree);
        if !known {
            let () = self.query(redis::cmd("SADD").arg(self.trees_key()).arg(tree), "register tree", tree).await?;
            self.registered.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(tree.to_string());
        }
        Ok(())
    }

    /// Every Redis key matching `pattern`, on every primary.
    async fn keys_matching(&self, pattern: &str, tree: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let nodes = match self.connection.clone() {
            Connection::Single(_) => vec![None],
            Connection::Cluster(mut c) => self.primaries(&mut c).await?.into_iter().map(Some).collect(),
        };
        let mut found = Vec::new();
        for node in nodes {
            let mut cursor = 0u64;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(SCAN_COUNT);
                let value = match (self.connection.clone(), &node) {
                    (Connection::Cluster(mut c), Some(slot)) => {
                        // Routed by a slot the primary serves: the client keeps a connection to it for sure
                        // (not always to an address it was not given, or to replicas).
                        let at = SingleNodeRoutingInfo::SpecificNode(Route::new(*slot, SlotAddr::Master));
                        c.route_command(scan, RoutingInfo::SingleNode(at)).await
                    }
                    (Connection::Single(mut c), _) => scan.query_async(&mut c).await,
                    (Connection::Cluster(mut c), None) => scan.query_async(&mut c).await,
                };
                let step = value.and_then(|v| Ok(redis::from_redis_value::<(u64, Vec<Vec<u8>>)>(v)?));
                let (next, keys) = step.map_err(|e| self.failed("scan", tree, &e))?;
                found.extend(keys);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(found)
    }

    /// One slot of each primary serving slots, from `CLUSTER NODES`.
    async fn primaries(&self, c: &mut ClusterConnection) -> Result<Vec<u16>, StoreError> {
        let value = c
            .route_command(
                redis::cmd("CLUSTER").arg("NODES").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
            .await
            .map_err(|e| self.failed("cluster nodes", "*", &e))?;
        let text: String = redis::from_redis_value(value).map_err(|e| self.failed("cluster nodes", "*", &e.into()))?;
        Ok(primaries(&text))
    }

    fn failed(&self, op: &'static str, tree: &str, e: &RedisError) -> StoreError {
        StoreError::Backend {
            op,
            namespace: tree.to_string(),
            reason: format!("Redis at {}: {}", self.shown, explain(e, self.is_cluster())),
        }
    }

    /// Every entry of one hash whose key starts with `prefix`.
    async fn read_hash(&self, key: &str, tree: &str, prefix: &[u8]) -> Result<Vec<Pair>, StoreError> {
        let all: Vec<Pair> = self.query(redis::cmd("HGETALL").arg(key), "scan", tree).await?;
        Ok(all.into_iter().filter(|(k, _)| k.starts_with(prefix)).collect())
    }
}

/// The first slot of every primary that is not failing and serves slots, from `CLUSTER NODES` output (a
/// command routed to that slot reaches that primary).
fn primaries(nodes: &str) -> Vec<u16> {
    nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                return None;
            }
            // Slot ranges (`0-5460`) or single slots follow the eighth field; `[…]` marks slots in migration.
            fields.iter().skip(8).find_map(|range| range.split('-').next()?.parse().ok())
        })
        .collect()
}

/// A Redis error in words an operator can act on.
fn explain(e: &RedisError, cluster: bool) -> String {
    let text = e.to_string();
    let hint = if e.is_connection_refusal() {
        " (connection refused: is Redis running there?)"
    } else if e.is_timeout() {
        " (timed out: is the server overloaded or the address wrong? see store.redis.response_timeout)"
    } else if text.contains("WRONGPASS") || text.contains("NOAUTH") || text.contains("NOPERM") {
        " (check store.redis.username and PALISADE__STORE__REDIS__PASSWORD, and the user's ACL)"
    } else if text.contains("cluster support disabled") && cluster {
        " (this server is not a cluster: use store.redis.url instead of nodes)"
    } else if text.contains("MOVED") && !cluster {
        " (this server is part of a cluster: list it under store.redis.nodes instead of url)"
    } else {
        ""
    };
    format!("{text}{hint}")
}

#[async_trait]
impl Backend for RedisBackend {
    async fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let hash = self.hash_key(tree, layout::slot_of_key(tree, key));
        self.query(redis::cmd("HGET").arg(hash).arg(key), "get", tree).await
    }

    async fn insert(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.register(tree).await?;
        let hash = self.hash_key(tree, layout::slot_of_key(tree, key));
        let _: i64 = self.query(redis::cmd("HSET").arg(hash).arg(key).arg(value), "insert", tree).await?;
        Ok(())
    }

    async fn remove(&self, tree: &str, key: &[u8]) -> Result<bool, StoreError> {
        let hash = self.hash_key(tree, layout::slot_of_key(tree, key));
        let removed: i64 = self.query(redis::cmd("HDEL").arg(hash).arg(key), "remove", tree).await?;
        Ok(removed > 0)
    }

    async fn remove_if_unchanged(&self, tree: &str, key: &[u8], expected: &[u8]) -> Result<bool, StoreError> {
        let hash = self.hash_key(tree, layout::slot_of_key(tree, key));
        let mut eval = redis::cmd("EVAL");
        eval.arg(REMOVE_IF_UNCHANGED).arg(1).arg(hash).arg(key).arg(expected);
        let removed: i64 = self.query(&eval, "compare and remove", tree).await?;
        Ok(removed > 0)
    }

    async fn replace_if_unchanged(
        &self,
        tree: &str,
        key: &[u8],
        expected: &[u8],
        value: &[u8],
    ) -> Result<bool, StoreError> {
        let hash = self.hash_key(tree, layout::slot_of_key(tree, key));
        let mut eval = redis::cmd("EVAL");
        eval.arg(REPLACE_IF_UNCHANGED).arg(1).arg(hash).arg(key).arg(expected).arg(value);
        let replaced: i64 = self.query(&eval, "compare and replace", tree).await?;
        Ok(replaced > 0)
    }

    async fn insert_if_absent(&self, tree: &str, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.register(tree).await?;
        let hash = self.hash_key(tree, layout::slot_of_key(tree, key));
        let mut eval = redis::cmd("EVAL");
        eval.arg(INSERT_IF_ABSENT).arg(1).arg(hash).arg(key).arg(value);
        self.query(&eval, "insert if absent", tree).await
    }

    async fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Vec<Pair>, StoreError> {
        let mut pairs = match layout::slot_of_prefix(tree, prefix) {
            Some(slot) => self.read_hash(&self.hash_key(tree, slot), tree, prefix).await?,
            None => {
                // SCAN may name a key twice (while the keyspace is rehashed): a set keeps each hash once.
                let mut keys: std::collections::BTreeSet<Vec<u8>> =
                    self.keys_matching(&format!("{}:{{s:*}}:{tree}", self.prefix), tree).await?.into_iter().collect();
                keys.insert(self.hash_key(tree, Slot::Tree).into_bytes());
                let mut pairs = Vec::new();
                for key in keys {
                    let key = String::from_utf8_lossy(&key).into_owned();
                    pairs.extend(self.read_hash(&key, tree, prefix).await?);
                }
                pairs
            }
        };
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(pairs)
    }

    async fn trees(&self) -> Result<Vec<String>, StoreError> {
        let mut trees: Vec<String> =
            self.query(redis::cmd("SMEMBERS").arg(self.trees_key()), "list trees", "*").await?;
        trees.sort_unstable();
        Ok(trees)
    }

    async fn flush(&self) -> Result<(), StoreError> {
        // Redis made the write as durable as its own settings say (`appendonly yes` with `appendfsync`) when it
        // answered; there is nothing more to ask of it here.
        Ok(())
    }

    fn shared(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::primaries;

    #[test]
    fn cluster_nodes_output_names_the_primaries_that_are_up() {
        // The format of `CLUSTER NODES` as the Redis documentation shows it.
        let nodes = "\
07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,hostname4 slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30002@31002,hostname2 master - 0 1426238316232 2 connected 5461-10922
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30003@31003,hostname3 master - 0 1426238318243 3 connected 10923-16383
6ec23923021cf3ffec47632106199cb7f496ce01 127.0.0.1:30005@31005,hostname5 master,fail - 0 1426238316232 5 connected
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001,hostname1 myself,master - 0 0 1 connected 0-5460
";
        assert_eq!(primaries(nodes), vec![5461, 10923, 0], "one slot of each primary serving slots");
    }
}
