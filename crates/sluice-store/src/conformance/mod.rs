//! The storage conformance suite: one set of checks that every backend must pass.
//!
//! Each check takes a fresh, empty store. `tests/conformance.rs` runs them against SQLite and
//! PostgreSQL.

pub mod apps;
pub mod events;
pub mod runs;
pub mod webhooks;

/// Runs every check, each on a fresh store from `fresh`.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@each $fresh;
            events::payload_round_trip, events::duplicate_ids_are_ignored,
            events::list_pages_newest_first, events::concurrent_appends_all_land,
            events::schema_is_migrated,
            webhooks::webhook_sources_round_trip, webhooks::accepted_delivery_stores_events,
            webhooks::duplicate_delivery_creates_no_events,
            webhooks::concurrent_duplicates_create_events_once,
            webhooks::refused_deliveries_are_recorded, webhooks::deliveries_page_and_filter,
            webhooks::rejected_deliveries_are_capped_per_source,
            apps::app_sync_round_trip, apps::app_modified_only_when_hash_changes,
            apps::app_sync_replaces_function_set, apps::app_failed_sync_keeps_functions,
            apps::app_failed_first_sync_is_kept, apps::app_delete_keeps_history,
            apps::app_rename_at_same_url_replaces_old_app, apps::app_concurrent_syncs_modify_once,
            runs::schedule_creates_runs_and_dedupes, runs::unscheduled_events_until_marked,
            runs::claim_due_respects_due_time_and_leases, runs::next_due_at_tracks_queue_and_leases,
            runs::commit_applies_the_whole_transition,
            runs::stale_version_conflicts_and_changes_nothing, runs::lost_lease_changes_nothing,
            runs::clear_pending_drops_the_runs_queue_and_waits, runs::list_runs_filters_and_pages,
            runs::runs_for_event_and_function_stats, runs::waits_resolve_once,
            runs::concurrent_claims_take_each_item_once,
            runs::concurrent_commits_of_one_run_serialize,
            runs::leadership_is_exclusive_until_expiry,
            runs::leadership_is_handed_back_with_a_zero_ttl,
            runs::release_leases_frees_only_the_owners);
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
