//! The storage conformance suite: one set of checks that every backend must pass.
//!
//! Each check takes a fresh, empty store. `tests/conformance.rs` runs them against SQLite and
//! PostgreSQL.

pub mod events;

/// Runs every check, each on a fresh store from `fresh`.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@each $fresh;
            events::payload_round_trip, events::duplicate_ids_are_ignored,
            events::list_pages_newest_first, events::concurrent_appends_all_land,
            events::schema_is_migrated);
    };
    (@each $fresh:expr; $($module:ident :: $name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(store) = $fresh.await else { return };
                $crate::conformance::$module::$name(store.clone()).await;
                store.close().await;
            }
        )*
    };
}
