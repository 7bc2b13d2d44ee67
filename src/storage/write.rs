//! Writing transactions that never outlive a failure, and whether the database takes writes now.
//!
//! A transaction is begun and ended by our own statements on a pooled connection. It is committed only by
//! [`WriteTx::commit`] succeeding; any other end (a failed statement, a failed commit, a dropped future) closes
//! the connection instead of returning it to the pool, and closing it rolls back whatever it held. So no pooled
//! connection is ever left inside a transaction (after SQLite's `SQLITE_FULL` one used to be: later writes on
//! it were answered as committed and rolled back at shutdown), and no write is acknowledged that did not commit.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
use sqlx::any::Any;
use sqlx::pool::PoolConnection;
use sqlx::{AnyConnection, Executor};

use super::{Backend, StorageError, StorageResult, Store, WriteTurn};

/// How long a write probe's answer stands before health asks the database again.
const PROBE_STANDS_FOR: Duration = Duration::from_secs(2);

/// Since when, and why, writes fail; `None` while they succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritesFailing {
    pub since_ms: i64,
    pub reason: String,
}

/// What this process knows of the database's writes: the last outcome, and when a probe last asked.
#[derive(Default)]
pub(super) struct WriteHealth {
    failing: Mutex<Option<WritesFailing>>,
    /// When the last probe ran; concurrent health checks wait for one probe (single flight).
    probed: tokio::sync::Mutex<Option<Instant>>,
}

impl WriteHealth {
    fn succeeded(&self) {
        if let Some(failing) = self.failing.lock().take() {
            tracing::info!(failing_since_ms = failing.since_ms, "database writes succeed again");
        }
    }

    fn failed(&self, error: &StorageError) {
        let mut failing = self.failing.lock();
        if failing.is_none() {
            tracing::error!(%error, "database writes fail");
            let since_ms = chrono::Utc::now().timestamp_millis();
            *failing = Some(WritesFailing { since_ms, reason: error.write_failure_reason() });
        }
    }
}

/// One writing transaction on one pooled connection, holding this process's turn to write.
pub(super) struct WriteTx<'a> {
    connection: PoolConnection<Any>,
    store: &'a Store,
    _turn: WriteTurn<'a>,
    ended: bool,
}

impl Store {
    /// Begins a writing transaction, after this process's earlier writers (SQLite takes the write lock at once).
    pub(super) async fn begin_write(&self) -> StorageResult<WriteTx<'_>> {
        let turn = self.write_turn().await;
        let mut connection = self.pool.acquire().await?;
        let begin = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        if let Err(error) = connection.execute(begin).await {
            connection.close_on_drop();
            return Err(self.write_failed(error.into()));
        }
        Ok(WriteTx { connection, store: self, _turn: turn, ended: false })
    }

    /// Notes a failed write for health, and hands the error on.
    pub(super) fn write_failed(&self, error: StorageError) -> StorageError {
        self.write_health.failed(&error);
        error
    }

    /// Since when and why writes fail, asking the database with a small write when the last answer is older
    /// than a couple of seconds: health tells the truth while nothing else writes, and sees recovery.
    pub async fn writes_failing(&self) -> Option<WritesFailing> {
        let mut probed = self.write_health.probed.lock().await;
        if probed.is_none_or(|at| at.elapsed() >= PROBE_STANDS_FOR) {
            *probed = Some(Instant::now());
            // The outcome is noted by the transaction itself.
            let _ = self.probe_write().await;
        }
        self.writes_failing_as_last_seen()
    }

    /// Since when and why writes failed, as last seen (no probe).
    pub fn writes_failing_as_last_seen(&self) -> Option<WritesFailing> {
        self.write_health.failing.lock().clone()
    }

    /// Rewrites one row of the settings table in a transaction of its own.
    async fn probe_write(&self) -> StorageResult<()> {
        let mut tx = self.begin_write().await?;
        let now = chrono::Utc::now().timestamp_millis().to_string();
        let probed = sqlx::query(
            "INSERT INTO settings (key, value) VALUES ('write_probe', $1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(now)
        .execute(&mut *tx)
        .await;
        if let Err(error) = probed {
            return Err(self.write_failed(error.into()));
        }
        tx.commit().await
    }
}

impl WriteTx<'_> {
    /// Commits. Only an `Ok` here means the writes are stored; after an error the connection is closed (which
    /// rolls back) and none of them are.
    pub async fn commit(mut self) -> StorageResult<()> {
        match self.connection.execute("COMMIT").await {
            Ok(_) => {
                self.ended = true;
                self.store.write_health.succeeded();
                Ok(())
            }
            Err(error) => {
                let _ = self.connection.execute("ROLLBACK").await;
                Err(self.store.write_failed(error.into()))
            }
        }
    }

    /// Rolls back what this transaction wrote (a conflict found on the way, say).
    pub async fn rollback(mut self) -> StorageResult<()> {
        self.connection.execute("ROLLBACK").await?;
        self.ended = true;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.connection
    }
}

impl std::ops::DerefMut for WriteTx<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.connection
    }
}

impl Drop for WriteTx<'_> {
    fn drop(&mut self) {
        if !self.ended {
            // Ended by an error or a dropped future: the connection goes, and its transaction with it.
            self.connection.close_on_drop();
        }
    }
}

impl StorageError {
    /// Whether this error says the database's disk is full (SQLite's `SQLITE_FULL`, PostgreSQL's `disk_full`).
    pub fn is_disk_full(&self) -> bool {
        self.database_code()
            .is_some_and(|code| code == "53100" || code.parse::<i32>().is_ok_and(|code| code & 0xff == 13))
    }

    fn database_code(&self) -> Option<String> {
        match self {
            StorageError::Database(sqlx::Error::Database(error)) => error.code().map(|code| code.into_owned()),
            _ => None,
        }
    }

    /// What health says when writes fail this way.
    fn write_failure_reason(&self) -> String {
        if self.is_disk_full() {
            "the database's disk is full".to_string()
        } else {
            self.to_string()
        }
    }
}
