//! Opening a database: which file a SQLite URL names, the checks a SQLite file gets before a pool opens it, the
//! lock that serialises migrations, and telling a database that is not reachable yet (worth waiting for) from one
//! that cannot work as configured (worth a message that names the fix).

use std::path::{Path, PathBuf};

use super::{StorageError, StorageResult};

/// The file of a `sqlite:` URL, or `None` for an in-memory database.
pub(super) fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Opens the SQLite file once, outside any pool, so that a file that is not a database, is damaged or cannot be
/// written fails start-up at once with SQLite's own words (a pool would retry until it timed out, saying only
/// that), and a file or folder this process may not write is named with the user id and the fix. An empty file
/// is a new database.
pub(super) async fn check_sqlite_file(url: &str) -> StorageResult<()> {
    use sqlx::Connection;
    let file = sqlite_file(url);
    if let Some(path) = &file {
        if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            tracing::warn!(file = %path.display(), "the database file is empty; starting it as a new database");
        }
    }
    let checked = async {
        let mut connection = sqlx::AnyConnection::connect(url).await?;
        let checked = async {
            let (tables,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM sqlite_master").fetch_one(&mut connection).await?;
            if tables == 0 {
                // Only a database without tables can take it: pruning then gives its free pages back to the file
                // system (`Store::reclaim_free_pages`) instead of keeping the file at its largest.
                sqlx::query("PRAGMA auto_vacuum = INCREMENTAL").execute(&mut connection).await?;
            }
            sqlx::query("PRAGMA journal_mode = WAL").execute(&mut connection).await
        }
        .await;
        let _ = connection.close().await;
        checked.map(|_| ())
    }
    .await;
    match (checked, file) {
        (Ok(()), _) => Ok(()),
        (Err(error), Some(path)) if is_cannot_open(&error) || is_read_only(&error) => {
            Err(StorageError::CannotOpenFile(Box::new(CannotOpen::diagnose(&path, &error.to_string()))))
        }
        (Err(error), _) => Err(error.into()),
    }
}

/// Connects once, outside any pool, so that a server that cannot be reached fails with why (refused, unresolvable,
/// a wrong password) at once; a pool would retry until its acquire timeout and then say only that it timed out.
pub(super) async fn check_postgres_answers(url: &str) -> StorageResult<()> {
    use sqlx::Connection;
    let connection = sqlx::AnyConnection::connect(url).await?;
    let _ = connection.close().await;
    Ok(())
}

/// SQLITE_CANTOPEN (14), with or without its extended code.
fn is_cannot_open(error: &sqlx::Error) -> bool {
    sqlite_primary_code(error) == Some(14)
}

/// SQLITE_READONLY (8): the file opened, but only for reading.
fn is_read_only(error: &sqlx::Error) -> bool {
    sqlite_primary_code(error) == Some(8)
}

fn sqlite_primary_code(error: &sqlx::Error) -> Option<i64> {
    let code = error.as_database_error()?.code()?;
    code.parse::<i64>().ok().map(|code| code & 0xff)
}

/// Why a SQLite file could not be opened for writing, found by trying what SQLite needs: the folder exists, a
/// file can be made in it (SQLite keeps its write-ahead log and lock files beside the database), the file itself
/// can be written.
#[derive(Debug)]
pub struct CannotOpen {
    pub path: PathBuf,
    pub user_id: u32,
    pub problem: String,
    pub fix: String,
}

impl CannotOpen {
    fn diagnose(path: &Path, sqlite_says: &str) -> CannotOpen {
        let user_id = effective_user_id();
        let folder = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let shown = folder.display();
        let elsewhere = "or set ZIPCOORD_DATABASE_URL to a file in a folder it can write";
        let (problem, fix) = match std::fs::metadata(&folder) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => (
                format!("the folder {shown} does not exist"),
                format!("create it (for a container, mount a volume there), {elsewhere}"),
            ),
            Ok(meta) if !meta.is_dir() => (format!("{shown} is not a folder"), format!("remove that file, {elsewhere}")),
            _ => match probe_folder(&folder) {
                Err(error) => (
                    format!("user id {user_id} cannot create files in {shown} ({error}); SQLite keeps its write-ahead log beside the database"),
                    format!(
                        "make {shown} writable by user id {user_id} (for a container's bind mount: `chown -R {user_id} \
                         <host folder>` on the host, or use a named volume), {elsewhere}"
                    ),
                ),
                Ok(()) => match std::fs::OpenOptions::new().read(true).write(true).open(path) {
                    Err(error) if error.kind() != std::io::ErrorKind::NotFound => (
                        format!("user id {user_id} cannot write {} ({error})", path.display()),
                        format!("give user id {user_id} write access to it (`chown {user_id}` it), {elsewhere}"),
                    ),
                    _ => (format!("SQLite says: {sqlite_says}"), format!("check the file and its folder, {elsewhere}")),
                },
            },
        };
        CannotOpen { path: path.to_path_buf(), user_id, problem, fix }
    }
}

impl std::fmt::Display for CannotOpen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot open the SQLite database {} as user id {}: {}. Fix: {}",
            self.path.display(),
            self.user_id,
            self.problem,
            self.fix
        )
    }
}

/// Creates and removes a file in `folder`: the one test of write access that holds for root, ACLs and read-only
/// mounts alike.
fn probe_folder(folder: &Path) -> std::io::Result<()> {
    let probe = folder.join(format!(".zipcoord-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new().write(true).create_new(true).open(&probe)?;
    std::fs::remove_file(&probe)
}

fn effective_user_id() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether `error` says the database could not be reached (refused, reset, unresolvable, timed out, starting up,
/// out of connection slots): worth waiting for. Anything else (a wrong password, a missing database, a damaged
/// file, a failed migration) stays wrong however long one waits.
pub fn is_unreachable(error: &StorageError) -> bool {
    let sqlx_error = match error {
        StorageError::Database(error) => error,
        StorageError::Migrate(sqlx::migrate::MigrateError::Execute(error)) => error,
        _ => return false,
    };
    match sqlx_error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => true,
        // cannot_connect_now (the server is starting or shutting down), too_many_connections, admin_shutdown.
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("57P03" | "53300" | "57P01")),
        _ => false,
    }
}

/// Blocks (off the async threads) until this process holds `<database>.migrate-lock`; released on drop.
pub(super) async fn lock_for_migrations(database: &Path) -> StorageResult<std::fs::File> {
    let mut name = database.as_os_str().to_owned();
    name.push(".migrate-lock");
    let path = PathBuf::from(name);
    let shown = path.display().to_string();
    let locked = tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| StorageError::MigrationLock { path: shown.clone(), reason: e.to_string() })?;
    locked.map_err(|e| StorageError::MigrationLock { path: shown, reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_folder_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join("zipcoord.db");
        let text = CannotOpen::diagnose(&path, "unable to open database file").to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(&format!("user id {}", effective_user_id())), "{text}");
        assert!(text.contains("does not exist") && text.contains("create it"), "{text}");
    }

    #[test]
    fn a_file_in_place_of_the_folder_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data"), b"not a folder").unwrap();
        let path = dir.path().join("data").join("zipcoord.db");
        let text = CannotOpen::diagnose(&path, "unable to open database file").to_string();
        assert!(text.contains("is not a folder"), "{text}");
    }

    #[test]
    fn only_connection_failures_are_worth_waiting_for() {
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(is_unreachable(&StorageError::Database(refused)));
        assert!(is_unreachable(&StorageError::Database(sqlx::Error::PoolTimedOut)));
        assert!(!is_unreachable(&StorageError::UnsupportedUrl));
        assert!(!is_unreachable(&StorageError::Database(sqlx::Error::RowNotFound)));
        assert!(!is_unreachable(&StorageError::Corrupt("x".into())));
    }
}
