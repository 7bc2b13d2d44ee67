//! The database: connection, migrations, and the queries of each resource.
//!
//! One implementation serves SQLite and PostgreSQL through sqlx's `any` driver with runtime queries; the two
//! backends differ only in their migration folders (kept in step, same numbering) and connection setup here.
//! The `any` driver carries only integers, floats, text and bytes, so times are BIGINT Unix milliseconds (or
//! seconds where the column says `_unix`), flags INTEGER 0/1 and structured values JSON text.

mod epochs;
mod grants;
mod inputs;
mod opening;
pub mod plans;
mod request_uuids;
mod retention;
mod settings;
mod status;
mod write;
mod zipcodes;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};

use opening::{check_postgres_answers, check_sqlite_file, lock_for_migrations, sqlite_file};

pub use epochs::EpochSummary;
pub use inputs::{InputsRecord, StoredInputs};
pub use opening::{is_unreachable, CannotOpen};
pub use retention::PruneCounts;
pub use status::MinerOutcome;
pub use status::Recorded;
pub use write::WritesFailing;
pub use zipcodes::{ImportMode, ImportReport, ZipcodeStats};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported database URL: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("cannot lock {path} for migrations: {reason}")]
    MigrationLock { path: String, reason: String },
    #[error("{0}")]
    CannotOpenFile(Box<opening::CannotOpen>),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The SQLite file, when there is one (not for `:memory:`).
    sqlite_file: Option<PathBuf>,
    /// This process's writers of a SQLite database, in arrival order (`Store::write_turn`).
    write_queue: Option<Arc<tokio::sync::Mutex<()>>>,
    write_health: Arc<write::WriteHealth>,
}

/// A writer's turn at a SQLite database; the next writer goes when it drops.
type WriteTurn<'a> = Option<tokio::sync::MutexGuard<'a, ()>>;

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({:?})", self.backend)
    }
}

impl Store {
    /// Connects to `url` (`sqlite://PATH`, `sqlite::memory:`, `postgres://...`). A missing SQLite file is created.
    pub async fn connect(url: &str) -> StorageResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StorageError::UnsupportedUrl);
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10));
        let options = if backend == Backend::Sqlite {
            options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // In WAL mode NORMAL keeps every commit across a process crash (only power loss can undo one).
                    // No connection checkpoints by itself: SQLite would make whichever writer's commit crosses the
                    // threshold copy the log into the file and fsync it (seen taking 0.9 s), with every other writer
                    // queued behind; `Store::checkpoint` runs outside the writers' queue instead.
                    conn.execute(
                        "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
                    )
                    .await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        match backend {
            Backend::Sqlite => check_sqlite_file(&url).await?,
            Backend::Postgres => check_postgres_answers(&url).await?,
        }
        let pool = options.connect(&url).await?;
        if backend == Backend::Sqlite {
            // WAL lets readers run beside the writer. It is a property of the file, so it is set once here rather
            // than per connection, where switching could contend with another connection's transaction.
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
        }
        let sqlite_file = (backend == Backend::Sqlite).then(|| sqlite_file(&url)).flatten();
        let write_queue = (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Store { pool, backend, sqlite_file, write_queue, write_health: Arc::default() })
    }

    /// Waits for this process's turn to write, before taking a connection. SQLite admits one writer at a time
    /// and lets the others poll with growing sleeps (up to 100 ms apart), so a writer polling beside a steady run
    /// of short transactions (a long prune) can miss every gap between them for seconds, holding a pooled
    /// connection all the while. Queued here instead, first come first served (tokio's mutex is fair), a write
    /// waits only for the writes ahead of it. Other processes (an import beside the server) still meet SQLite's
    /// busy timeout. PostgreSQL locks rows, not the database: no queue there.
    async fn write_turn(&self) -> WriteTurn<'_> {
        match &self.write_queue {
            Some(queue) => Some(queue.lock().await),
            None => None,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations. Safe when several processes start together: sqlx takes an advisory lock on
    /// PostgreSQL; on SQLite, where sqlx takes none (two processes would both apply migration 1), an exclusive
    /// lock on a file beside the database serialises them.
    pub async fn migrate(&self) -> StorageResult<()> {
        match self.backend {
            Backend::Sqlite => {
                let _lock = match &self.sqlite_file {
                    Some(file) => Some(lock_for_migrations(file).await?),
                    None => None,
                };
                SQLITE_MIGRATIONS.run(&self.pool).await?
            }
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// The database's size in bytes: the SQLite file and its write-ahead log, or PostgreSQL's own count.
    pub async fn database_bytes(&self) -> StorageResult<u64> {
        let (bytes,): (i64,) = match self.backend {
            Backend::Sqlite => {
                sqlx::query_as("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
                    .fetch_one(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::query_as("SELECT pg_database_size(current_database())::BIGINT").fetch_one(&self.pool).await?
            }
        };
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    /// Copies what the SQLite write-ahead log holds into the database file, as far as readers allow, beside the
    /// writers rather than in their queue (PASSIVE). The server runs it every second and retention after each
    /// step; the last connection to close checkpoints the rest. Returns the log frames still to copy.
    pub async fn checkpoint(&self) -> StorageResult<i64> {
        if self.backend != Backend::Sqlite {
            return Ok(0);
        }
        let (_busy, log, copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&self.pool).await?;
        Ok(log.saturating_sub(copied).max(0))
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn flag(value: bool) -> i32 {
    i32::from(value)
}

fn get_flag(row: &AnyRow, column: &str) -> StorageResult<bool> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

fn get_u32(row: &AnyRow, column: &str) -> StorageResult<u32> {
    let value: i64 = row.try_get(column)?;
    u32::try_from(value).map_err(|_| StorageError::Corrupt(format!("{column} = {value} is out of range")))
}

fn get_u64(row: &AnyRow, column: &str) -> StorageResult<u64> {
    let value: i64 = row.try_get(column)?;
    u64::try_from(value).map_err(|_| StorageError::Corrupt(format!("{column} = {value} is negative")))
}

fn parse_column<T: std::str::FromStr>(row: &AnyRow, column: &str) -> StorageResult<T> {
    let text: String = row.try_get(column)?;
    text.parse().map_err(|_| StorageError::Corrupt(format!("{column} = {text:?} does not parse")))
}
