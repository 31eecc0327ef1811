//! Runs the storage conformance suite against SQLite and PostgreSQL.
//!
//! PostgreSQL is at `SLUICE_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! each test gets its own fresh database. Outside CI, an unreachable server skips those tests with
//! a printed reason; in CI (`CI` set) it fails them.

use std::sync::Arc;

use sluice_store::Store;

async fn fresh_sqlite() -> Option<Arc<dyn Store>> {
    let dir = std::env::temp_dir().join(format!("sluice-conf-{}", ulid::Ulid::new()));
    Some(
        sluice_store::open(dir.to_str().unwrap())
            .await
            .expect("open sqlite"),
    )
}

async fn fresh_postgres() -> Option<Arc<dyn Store>> {
    let url = sluice_store::testing::fresh_postgres_url("conf").await?;
    Some(sluice_store::open(&url).await.expect("open postgres"))
}

mod sqlite {
    use super::*;
    sluice_store::conformance_tests!(fresh_sqlite());
}

mod postgres {
    use super::*;
    sluice_store::conformance_tests!(fresh_postgres());
}
