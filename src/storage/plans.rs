//! Query plans: which statements the service runs, and what the database means to do with each. A test runs the
//! service with [`StatementLog`] listening and fails on a statement that would read a growing table whole; the
//! history benchmark prints the plans of every statement on a month of history (`docs/query-plans.md`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use sqlx::Row;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

use super::{Backend, StorageResult, Store};

/// Tables that stay small whatever the age of the service (a scan of them is no finding).
const SMALL_TABLES: [&str; 4] = ["zipcodes", "settings", "_sqlx_migrations", "sqlite_master"];

/// The SQL of every statement sqlx ran while this layer listened (sqlx reports each as a `sqlx::query` event,
/// at DEBUG unless it was slow). Clones share one set.
#[derive(Clone, Default)]
pub struct StatementLog {
    statements: Arc<Mutex<BTreeSet<String>>>,
}

impl StatementLog {
    /// The distinct statements seen so far, sorted.
    pub fn statements(&self) -> Vec<String> {
        self.statements.lock().map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }
}

impl<S: tracing::Subscriber> Layer<S> for StatementLog {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        #[derive(Default)]
        struct Fields {
            summary: String,
            statement: String,
        }
        impl Visit for Fields {
            fn record_str(&mut self, field: &Field, value: &str) {
                match field.name() {
                    "summary" => self.summary = value.to_string(),
                    "db.statement" => self.statement = value.to_string(),
                    _ => {}
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if matches!(field.name(), "summary" | "db.statement") {
                    self.record_str(field, format!("{value:?}").trim_matches('"'))
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        // A statement of four words or fewer is its own summary, and sqlx then leaves `db.statement` empty.
        let sql = if fields.statement.trim().is_empty() { fields.summary } else { fields.statement };
        let sql = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        if let Ok(mut statements) = self.statements.lock() {
            statements.insert(first_row_only(&sql));
        }
    }
}

/// `sql` with a multi-row `VALUES` list cut to its first row: the plan is the same, and a bulk insert of 42 rows
/// and one of 43 are one statement.
fn first_row_only(sql: &str) -> String {
    let Some(values) = sql.find("VALUES (") else { return sql.to_string() };
    let row_start = values + "VALUES ".len();
    let Some(row_length) = sql[row_start..].find(')') else { return sql.to_string() };
    let row_end = row_start + row_length + 1;
    let mut rest = &sql[row_end..];
    while let Some(next) = rest.trim_start().strip_prefix(',').map(str::trim_start).filter(|n| n.starts_with('(')) {
        match next.find(')') {
            Some(end) => rest = &next[end + 1..],
            None => break,
        }
    }
    format!("{}{rest}", &sql[..row_end])
}

/// Whether `sql` is a statement a plan can be asked for (not a transaction boundary, pragma or DDL).
pub fn is_explainable(sql: &str) -> bool {
    let first = sql.split_whitespace().next().unwrap_or_default().to_ascii_uppercase();
    matches!(first.as_str(), "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "WITH")
}

/// The steps of a plan that read a table other than a small one from end to end: SQLite's `SCAN t` without an
/// index, PostgreSQL's `Seq Scan on t`.
pub fn full_scans(plan: &[String]) -> Vec<String> {
    plan.iter()
        .filter_map(|line| {
            let line = line.trim().trim_start_matches("->").trim();
            let table = if let Some(rest) = line.strip_prefix("SCAN ") {
                (!rest.contains(" USING ")).then(|| rest.split_whitespace().next().unwrap_or_default())
            } else {
                line.strip_prefix("Seq Scan on ").map(|rest| rest.split_whitespace().next().unwrap_or_default())
            }?;
            // SQLite walks the rows of a multi-row `VALUES` as a "SCAN 42-ROW VALUES CLAUSE".
            let values = line.ends_with("-ROW VALUES CLAUSE") || line == "SCAN CONSTANT ROW";
            (!values && !SMALL_TABLES.contains(&table)).then(|| line.to_string())
        })
        .collect()
}

/// The highest `$N` in `sql`: how many parameters it takes.
fn highest_parameter(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .max()
        .unwrap_or(0)
}

impl Store {
    /// The plan of `sql`, one line per step. SQLite: `EXPLAIN QUERY PLAN` (which leaves parameters unbound).
    /// PostgreSQL: the generic plan of the statement prepared with its parameters' types inferred, the plan a
    /// prepared statement settles on whatever values it is given.
    pub async fn explain(&self, sql: &str) -> StorageResult<Vec<String>> {
        use sqlx::Connection;
        // A connection of its own, closed afterwards: the session settings and prepared statement made here never
        // reach a pooled connection.
        let mut connection = self.pool.acquire().await?.detach();
        let plan = match self.backend {
            Backend::Sqlite => {
                sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"))).fetch_all(&mut connection).await
            }
            Backend::Postgres => {
                let parameters = highest_parameter(sql);
                let values =
                    if parameters == 0 { String::new() } else { format!("({})", vec!["NULL"; parameters].join(", ")) };
                let explained = async {
                    sqlx::query("SET plan_cache_mode = force_generic_plan").execute(&mut connection).await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("PREPARE zipcoord_plan AS {sql}")))
                        .execute(&mut connection)
                        .await?;
                    sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN EXECUTE zipcoord_plan{values}")))
                        .fetch_all(&mut connection)
                        .await
                };
                explained.await
            }
        };
        let _ = connection.close().await;
        let column = if self.backend == Backend::Sqlite { "detail" } else { "QUERY PLAN" };
        plan?.iter().map(|row| Ok(row.try_get::<String, _>(column)?)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(plan: &[&str]) -> Vec<String> {
        plan.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn full_scans_of_growing_tables_are_found_in_either_dialect() {
        let sqlite = lines(&[
            "SEARCH status_events USING INDEX status_events_by_epoch (epoch_id=?)",
            "SCAN g USING INDEX access_grants_by_time",
            "SCAN access_grants",
            "SCAN 42-ROW VALUES CLAUSE",
            "SCAN zipcodes",
            "USE TEMP B-TREE FOR ORDER BY",
        ]);
        assert_eq!(full_scans(&sqlite), vec!["SCAN access_grants"]);
        let postgres = lines(&[
            "Limit  (cost=0.43..8.45 rows=1 width=8)",
            "  ->  Index Scan using access_grants_by_time on access_grants g  (cost=0.43..8.45 rows=1 width=8)",
            "  ->  Seq Scan on status_events  (cost=0.00..1.01 rows=1 width=8)",
            "  ->  Seq Scan on settings  (cost=0.00..1.01 rows=1 width=8)",
        ]);
        assert_eq!(full_scans(&postgres), vec!["Seq Scan on status_events  (cost=0.00..1.01 rows=1 width=8)"]);
    }

    #[test]
    fn bulk_inserts_are_one_statement_whatever_their_rows() {
        assert_eq!(
            first_row_only("INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4),($5, $6) ON CONFLICT (a) DO NOTHING"),
            "INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT (a) DO NOTHING"
        );
        assert_eq!(first_row_only("INSERT INTO t (a) VALUES ($1)"), "INSERT INTO t (a) VALUES ($1)");
        assert_eq!(first_row_only("SELECT a FROM t WHERE b IN ($1, $2)"), "SELECT a FROM t WHERE b IN ($1, $2)");
    }

    #[test]
    fn the_highest_parameter_counts_them() {
        assert_eq!(highest_parameter("SELECT 1"), 0);
        assert_eq!(highest_parameter("SELECT x FROM t WHERE a = $2 AND b = $1 LIMIT $10"), 10);
        assert_eq!(highest_parameter("SELECT '$' || x FROM t WHERE a = $3"), 3);
    }
}
