//! Helpers for tests in this and other crates: fresh PostgreSQL databases.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

/// Test databases older than this are dropped by the next test process that makes one. Older
/// than any test run, so a database another process is still using is never touched.
const STALE_AFTER: Duration = Duration::from_secs(2 * 60 * 60);

static SWEPT: AtomicBool = AtomicBool::new(false);

/// The server tests create databases on.
pub fn admin_url() -> String {
    std::env::var("SLUICE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Creates an empty database and returns its URL. When PostgreSQL is unreachable it returns
/// `None` after printing why, unless `CI` is set, where a missing PostgreSQL is a failure.
pub async fn fresh_postgres_url(prefix: &str) -> Option<String> {
    let admin = admin_url();
    let connected = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await;
    let (client, conn) = match connected {
        Ok(c) => c,
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("PostgreSQL at {admin} is required in CI: {e}");
            }
            eprintln!("skipping: PostgreSQL at {admin} is unreachable ({e}); set SLUICE_TEST_DATABASE_URL");
            return None;
        }
    };
    tokio::spawn(conn);
    sweep_stale_databases(&client).await;
    let name = format!(
        "sluice_test_{prefix}_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(format!("{base}/{name}"))
}

/// Drops the test databases earlier runs left behind, once per process. A test database is named
/// `sluice_test_<prefix>_<ulid>`, and the ULID says when it was made. Failures are printed, not fatal:
/// a leftover database costs disk, not correctness.
async fn sweep_stale_databases(client: &tokio_postgres::Client) {
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let rows = match client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'sluice\\_test\\_%'",
            &[],
        )
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("not sweeping old test databases: {e}");
            return;
        }
    };
    let cutoff = SystemTime::now() - STALE_AFTER;
    for row in rows {
        let name: String = row.get(0);
        if !is_stale(&name, cutoff) {
            continue;
        }
        let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        if let Err(e) = client.batch_execute(&drop).await {
            eprintln!("could not drop old test database {name}: {e}");
        }
    }
}

/// Whether `name` is a test database made before `cutoff`. Names that do not end in a ULID are
/// not ours and never stale.
fn is_stale(name: &str, cutoff: SystemTime) -> bool {
    let Some((_, id)) = name.rsplit_once('_') else {
        return false;
    };
    match ulid::Ulid::from_string(&id.to_ascii_uppercase()) {
        Ok(id) => id.datetime() < cutoff,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_test_databases_are_stale() {
        let now = SystemTime::now();
        let old = ulid::Ulid::from_datetime(now - Duration::from_secs(3 * 60 * 60));
        let new = ulid::Ulid::from_datetime(now);
        let name = |id: ulid::Ulid| format!("sluice_test_conf_{}", id.to_string().to_lowercase());
        let cutoff = now - STALE_AFTER;
        assert!(is_stale(&name(old), cutoff));
        assert!(!is_stale(&name(new), cutoff));
        assert!(!is_stale("sluice_test_production", cutoff));
        assert!(!is_stale("postgres", cutoff));
    }
}
