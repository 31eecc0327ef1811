//! Apps (`/apps`): for each app its URL, SDK and framework, the last sync's time and result, the
//! function set's hash and size, a failed sync's error in full, settings it uses that Sluice does
//! not enforce, and its recent sync history; resync and remove; add an app by URL.
//!
//! This page exists for the deploy that silently lagged behind its code: a failed or stale sync
//! is shown loudly, never as a footnote.

use axum::extract::State;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::json;
use sluice_store::{AppRecord, FunctionRecord, SyncRecord};

use super::layout::{action_button, connect_help, empty, error_page, frame, time, Live, Nav};
use super::seg;
use crate::auth::Viewer;
use crate::{ApiError, SharedState};

/// Sync attempts shown per app.
const HISTORY: usize = 5;

/// `GET /apps`.
pub async fn page(State(state): State<SharedState>, viewer: Viewer) -> Response {
    let result = async {
        let apps = state.store.list_apps().await?;
        let functions = state.store.list_functions().await?;
        let mut syncs = Vec::with_capacity(apps.len());
        for a in &apps {
            syncs.push(state.store.list_syncs(&a.id, HISTORY).await?);
        }
        Ok::<_, ApiError>((apps, functions, syncs))
    }
    .await;
    match result {
        Ok((apps, functions, syncs)) => {
            let body = html! {
                div.page-head { h1 { "Apps" } }
                (add_form())
                @if apps.is_empty() {
                    (empty("No apps synced yet", connect_help(&state)))
                }
                @for (app, history) in apps.iter().zip(&syncs) {
                    (card(app, &functions, history))
                }
            };
            frame(&state, &viewer, "Apps", Nav::Apps, Live::Off, body)
        }
        Err(e) => error_page(&state, &viewer, Nav::Apps, e),
    }
}

fn add_form() -> Markup {
    html! {
        form.inline.add-app data-action="/dashboard/actions/v1/apps" data-then="reload" {
            label { "Add an app by its serve URL"
                input type="url" name="url" required placeholder="http://127.0.0.1:3000/api/inngest";
            }
            button type="submit" { "Sync app" }
        }
    }
}

fn card(app: &AppRecord, functions: &[FunctionRecord], history: &[SyncRecord]) -> Markup {
    let mine: Vec<&FunctionRecord> = functions.iter().filter(|f| f.app_id == app.id).collect();
    let unenforced: Vec<&FunctionRecord> = mine
        .iter()
        .copied()
        .filter(|f| !f.unenforced.is_empty())
        .collect();
    let failed = app.last_error.is_some();
    let base = format!("/dashboard/actions/v1/apps/{}", seg(&app.id));
    html! {
        article.card.app id=(format!("app-{}", app.id)) data-failed=[failed.then_some("true")] {
            header {
                h2 { (app.id) }
                @if failed { span.badge.s-failed { "last sync failed" } } @else { span.badge.s-completed { "synced" } }
                div.actions {
                    (action_button("Resync", &format!("{base}/resync"), "POST", Some(json!({})), None, "reload", ""))
                    (action_button("Remove", &base, "DELETE", None,
                        Some("Remove this app and its functions? Its runs and sync history stay."), "reload", "danger"))
                }
            }
            @if let Some(error) = &app.last_error {
                div.warning.loud role="alert" {
                    strong { "The last sync failed " (time(app.last_attempt_at_ms)) ". " }
                    "The functions below are from the last successful sync"
                    @if let Some(at) = app.synced_at_ms { " (" (time(at)) ")" }
                    ", so the app may be running code Sluice does not know about."
                    pre.sync-error { code { (error) } }
                }
            }
            @if !unenforced.is_empty() {
                div.warning.loud role="alert" {
                    strong { "Settings Sluice does not enforce yet:" }
                    ul {
                        @for f in &unenforced {
                            li { a href=(format!("/functions/{}", seg(&f.id))) { (f.name) } ": " (f.unenforced.join(", ")) }
                        }
                    }
                    "They were accepted because the app was synced with " code { "--allow-unenforced" } ". These functions run as if the settings were absent."
                }
            }
            dl.facts {
                dt { "URL" } dd { code { (app.url) } }
                dt { "SDK" } dd { (app.sdk.as_deref().unwrap_or("unknown")) }
                dt { "Framework" } dd { (app.framework.as_deref().unwrap_or("unknown")) }
                @if let Some(v) = &app.app_version { dt { "App version" } dd { code { (v) } } }
                dt { "Last synced" } dd {
                    @match app.synced_at_ms { Some(at) => (time(at)), None => span.muted { "never successfully" } }
                }
                dt { "Last attempt" } dd { (time(app.last_attempt_at_ms)) }
                dt { "Function set" } dd {
                    code title=(app.function_hash.as_deref().unwrap_or("")) {
                        (app.function_hash.as_deref().unwrap_or("—"))
                    }
                }
                dt { "Functions" } dd {
                    (app.function_count) " "
                    @for f in &mine { a.tag href=(format!("/functions/{}", seg(&f.id))) { (f.name) } " " }
                }
            }
            @if !history.is_empty() {
                details {
                    summary { "Recent syncs" }
                    table.syncs {
                        thead { tr { th { "When" } th { "Result" } th { "Hash" } th { "SDK" } } }
                        tbody {
                            @for s in history {
                                tr {
                                    td data-label="When" { (time(s.at_ms)) }
                                    td data-label="Result" {
                                        @match &s.error {
                                            Some(e) => { span.badge.s-failed { "failed" } " " span.sync-error-inline { (e) } }
                                            None => { span.badge.s-completed { "ok" } @if s.modified { " changed" } }
                                        }
                                    }
                                    td data-label="Hash" { code title=(s.function_hash.as_deref().unwrap_or("")) {
                                        (s.function_hash.as_deref().map(|h| h.chars().take(12).collect::<String>()).unwrap_or_default()) } }
                                    td data-label="SDK" { (s.sdk.as_deref().unwrap_or("")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
