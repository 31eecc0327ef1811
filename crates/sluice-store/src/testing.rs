//! Helpers for tests in this and other crates: fresh PostgreSQL databases.

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
    let name = format!(
        "sluice_{prefix}_{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Some(format!("{base}/{name}"))
}
