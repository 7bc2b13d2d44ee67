//! The database: connection, migrations, and the queries of each resource.
//!
//! One implementation serves SQLite and PostgreSQL through sqlx's `any` driver with runtime queries; the two
//! backends differ only in their migration folders (kept in step, same numbering) and connection setup here.
//! The `any` driver carries only integers, floats, text and bytes, so times are BIGINT Unix milliseconds (or
//! seconds where the column says `_unix`), flags INTEGER 0/1 and structured values JSON text.

mod epochs;
mod grants;
mod retention;
mod settings;
mod status;
mod zipcodes;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};

pub use epochs::EpochSummary;
pub use retention::PruneCounts;
pub use zipcodes::{ImportMode, ImportReport, ZipcodeStats};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
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
}

pub type StorageResult<T> = Result<T, StorageError>;

/// A handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

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
                    conn.execute("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                        .await?;
                    Ok(())
                })
            })
        } else {
            options
        };
        let pool = options.connect(&url).await?;
        if backend == Backend::Sqlite {
            // WAL lets readers run beside the writer. It is a property of the file, so it is set once here rather
            // than per connection, where switching could contend with another connection's transaction.
            sqlx::query("PRAGMA journal_mode = WAL").execute(&pool).await?;
        }
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Applies pending migrations. Safe when several processes start together: sqlx serialises them
    /// (an advisory lock on PostgreSQL, the database lock on SQLite).
    pub async fn migrate(&self) -> StorageResult<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
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
