//! Conformance checks for several nodes at once: claimers and committers racing on one queue
//! and one run must neither share work nor fail.

use std::collections::HashSet;
use std::sync::Arc;

use ulid::Ulid;

use super::{claim, create, get, history, item, run, step, Ids};
use crate::{CommitResult, NewQueueItem, Store, Transition};

/// Claimers racing over one queue each get different items, and every item is claimed once.
pub async fn concurrent_claims_take_each_item_once(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    let r = ids.next();
    create(&store, vec![run(r, "fn", 0)]).await;
    let items: Vec<NewQueueItem> = (0..60).map(|_| item(ids.next(), r, 100)).collect();
    store.enqueue(items.clone()).await.unwrap();
    let tasks: Vec<_> = (0..6)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let got = store.claim_due(&format!("node-{n}"), 100, 60_000, 4).await;
                    let got = got.expect("claim");
                    if got.is_empty() {
                        return mine;
                    }
                    mine.extend(got.into_iter().map(|i| i.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let unique: HashSet<Ulid> = all.iter().copied().collect();
    assert_eq!(all.len(), 60, "no item claimed twice");
    assert_eq!(unique, items.iter().map(|i| i.id).collect());
}

/// Two commits racing on one run, each consuming its own item and clearing the run's pending
/// work: one commits, the other is refused, neither fails.
pub async fn concurrent_commits_of_one_run_serialize(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    for _ in 0..10 {
        let r = ids.next();
        let mut new = run(r, "fn", 0);
        new.enqueue = vec![item(ids.next(), r, 100), item(ids.next(), r, 100)];
        let items: Vec<Ulid> = new.enqueue.iter().map(|q| q.id).collect();
        create(&store, vec![new]).await;
        assert_eq!(claim(&store, "w", 100).await.len(), 2);
        let tasks: Vec<_> = items
            .into_iter()
            .map(|q| {
                let store = store.clone();
                let t = Transition {
                    consume: Some((q, "w".into())),
                    status: "Completed".into(),
                    clear_pending: true,
                    history: vec![history(ids.next(), r, 0)],
                    ..step(r, 0, 200)
                };
                tokio::spawn(async move { store.commit(t).await })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.expect("task").expect("commit must not fail"));
        }
        results.sort_by_key(|r| *r != CommitResult::Committed);
        assert_eq!(results[0], CommitResult::Committed);
        assert_ne!(results[1], CommitResult::Committed);
        assert_eq!(get(&store, r).await.version, 1);
        assert_eq!(store.history(r).await.unwrap().len(), 1);
        assert!(claim(&store, "z", 100_000).await.is_empty());
    }
}

/// Leadership: one owner at a time, renewable by its owner, taken over only after expiry.
pub async fn leadership_is_exclusive_until_expiry(store: Arc<dyn Store>) {
    assert!(store.lead("scheduler", "a", 1_000, 100).await.unwrap());
    assert!(
        !store.lead("scheduler", "b", 1_050, 100).await.unwrap(),
        "b must wait for a's lease"
    );
    assert!(
        store.lead("scheduler", "a", 1_090, 100).await.unwrap(),
        "a renews"
    );
    assert!(
        !store.lead("scheduler", "b", 1_150, 100).await.unwrap(),
        "renewal extended a's lease"
    );
    assert!(
        store.lead("scheduler", "b", 1_190, 100).await.unwrap(),
        "b takes over after expiry"
    );
    assert!(!store.lead("scheduler", "a", 1_200, 100).await.unwrap());
    assert!(
        store.lead("cron", "a", 1_200, 100).await.unwrap(),
        "names are independent"
    );
}

/// A leader stepping down renews with a zero TTL, and another node may lead at once.
pub async fn leadership_is_handed_back_with_a_zero_ttl(store: Arc<dyn Store>) {
    assert!(store.lead("scheduler", "a", 1_000, 10_000).await.unwrap());
    assert!(!store.lead("scheduler", "b", 1_001, 10_000).await.unwrap());
    assert!(
        store.lead("scheduler", "a", 1_002, 0).await.unwrap(),
        "a steps down"
    );
    assert!(
        store.lead("scheduler", "b", 1_003, 10_000).await.unwrap(),
        "b leads without waiting for a's old lease"
    );
}

/// A restarted node frees the leases its previous process held, and only those.
pub async fn release_leases_frees_only_the_owners(store: Arc<dyn Store>) {
    let mut ids = Ids::new();
    let r = ids.next();
    create(&store, vec![run(r, "fn", 0)]).await;
    store
        .enqueue(vec![item(ids.next(), r, 0), item(ids.next(), r, 0)])
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_due("node-a", 10, 1_000_000, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .claim_due("node-b", 10, 1_000_000, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.release_leases("node-a").await.unwrap(), 1);
    let again = store.claim_due("node-c", 20, 1_000, 10).await.unwrap();
    assert_eq!(again.len(), 1, "only node-a's item is free again");
}
