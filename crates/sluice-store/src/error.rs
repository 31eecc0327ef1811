//! The store's error type.

/// A storage failure. Messages name the backend and the operation, never credentials.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(String),
    #[error("io: {0}")]
    Io(String),
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A run changed under a commit (optimistic concurrency); the engine reloads and retries.
    #[error("the run changed concurrently")]
    Conflict,
    #[error("the store is closed")]
    Closed,
    #[error("migration failed: {0}")]
    Migration(String),
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        // The Display of a db error hides the detail; keep it.
        match e.as_db_error() {
            Some(db) => Error::Postgres(format!("{}: {}", db.code().code(), db.message())),
            None => Error::Postgres(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Error::Postgres(format!("pool: {e}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
